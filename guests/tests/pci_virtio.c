/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci devices behind the PCIe host bridge, driven the way a driver
 * does: enumerate the ECAM, size and assign the BARs, walk the capabilities,
 * route MSI-X through the ITS (MAPD/MAPC/MAPTI with DeviceID = the function's
 * BDF, GICv3) or through GICv2m (GICv2), negotiate VIRTIO_F_VERSION_1, set up
 * a split virtqueue and take its used-buffer interrupt.
 *
 * virtio-rng: random bytes arrive with an interrupt, several times.
 * virtio-blk: the capacity, and a read of the whole disk checked against the
 * pattern tests/vmm/pci.sh writes (32-bit word k = k * 0x9e3779b1), plus a
 * read past the end that fails with IOERR.
 *
 * The kernel command line says what to expect: "expect-rng", "expect-blk";
 * "kill-rng" keeps using the rng until its device process is killed from
 * outside, then checks that its functions read as absent and the VM runs on.
 */
#include "its.h"

#define ECAM_BASE 0x3f000000ul
#define MMIO_BASE 0x10000000ul
#define MMIO_END  0x3eff0000ul

#define GITS_TRANSLATER (GITS_BASE + 0x10040)
#define V2M_SETSPI	(V2M_BASE + V2M_MSI_SETSPI_NS)
#define V2M_SPI0	90

#define PCI_COMMAND    0x04
#define PCI_STATUS     0x06
#define PCI_BAR0       0x10
#define PCI_CAP_PTR    0x34
#define PCI_CAP_VNDR   0x09
#define PCI_CAP_MSIX   0x11
#define VIRTIO_VENDOR  0x1af4
#define VIRTIO_DEV_BLK 0x1042
#define VIRTIO_DEV_RNG 0x1044

/* virtio common configuration (virtio 1.2, 4.1.4.3). */
#define VC_DFSELECT  0x00
#define VC_DF	     0x04
#define VC_GFSELECT  0x08
#define VC_GF	     0x0c
#define VC_MSIX	     0x10
#define VC_NUMQ	     0x12
#define VC_STATUS    0x14
#define VC_QSELECT   0x16
#define VC_QSIZE     0x18
#define VC_QMSIX     0x1a
#define VC_QENABLE   0x1c
#define VC_QNOTIFY   0x1e
#define VC_QDESC     0x20
#define VC_QDRIVER   0x28
#define VC_QDEVICE   0x30
#define ST_ACK	     1
#define ST_DRIVER    2
#define ST_DRIVER_OK 4
#define ST_FEAT_OK   8

#define QSIZE 16
/* Where num_queues is when the common configuration sits at the start of BAR 4 (ivy's layout). */
#define VIRTIO_COMMON_NUMQ(bar) ((bar) + VC_NUMQ)

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct vq {
	struct vdesc desc[QSIZE] __attribute__((aligned(4096)));
	struct {
		uint16_t flags, idx, ring[QSIZE], used_event;
	} avail __attribute__((aligned(4096)));
	struct {
		uint16_t flags, idx;
		struct {
			uint32_t id, len;
		} ring[QSIZE];
		uint16_t avail_event;
	} used __attribute__((aligned(4096)));
};

struct vdev {
	const char *name;
	unsigned dev; /* slot on bus 0 */
	uint16_t bdf;
	uintptr_t cfg; /* its ECAM page */
	uint64_t bar[6];
	uintptr_t common, notify, isr, devcfg;
	uint32_t notify_mult;
	unsigned msix_cap;
	uintptr_t msix_table;
	unsigned intid; /* the queue's interrupt */
	struct vq *vq;
	uint16_t avail_idx, used_seen;
	uint16_t qsize; /* queue 0's size, as negotiated */
};

static struct its_tables tables;
static struct vq rng_vq, blk_vq;
static uint8_t rng_buf[64];
static uint8_t blk_data[65536] __attribute__((aligned(4096)));
static struct {
	uint32_t type, reserved;
	uint64_t sector;
} blk_hdr;
static volatile uint8_t blk_status;
static volatile unsigned irq_count[1024];
static volatile unsigned lpi_count[ITS_NR_LPIS];
static uint64_t next_mmio = MMIO_BASE;
static unsigned nr_msi;

/* INTx (no MSI controller): the ISR register of the function on each line's SPI. */
static uintptr_t intx_isr[1024];
static bool use_intx;

static void pci_irq(struct exc_frame *f)
{
	(void)f;
	uint32_t iar = gic_ack(), id = iar & 0xffffff;

	if (id >= LPI_BASE && id < LPI_BASE + ITS_NR_LPIS)
		lpi_count[id - LPI_BASE]++;
	else if (id < 1020 && intx_isr[id])
		/* Reading the ISR lowers the level line before the EOI. */
		irq_count[id] += mmio_read8(intx_isr[id]) & 1;
	else if (id < 1020)
		irq_count[id]++;
	if (id < 1020 || id >= LPI_BASE)
		gic_eoi(iar);
}

static unsigned irqs_of(const struct vdev *d)
{
	return d->intid >= LPI_BASE ? lpi_count[d->intid - LPI_BASE] : irq_count[d->intid];
}

static uint32_t cfg_read32(const struct vdev *d, unsigned reg)
{
	return mmio_read32(d->cfg + reg);
}

static uint8_t cfg_read8(const struct vdev *d, unsigned reg)
{
	return mmio_read8(d->cfg + reg);
}

/* Sizes each BAR, gives it an address in the window, turns on decoding and mastering. */
static void pci_assign_bars(struct vdev *d)
{
	mmio_write32(d->cfg + PCI_COMMAND, 0);
	for (unsigned b = 0; b < 6; b++) {
		unsigned reg = PCI_BAR0 + 4 * b;
		uint32_t orig = cfg_read32(d, reg);
		bool is64 = (orig & 6) == 4;
		uint64_t mask;

		/* I/O BARs (a transitional device's legacy interface) stay unassigned. */
		if (orig & 1) {
			d->bar[b] = 0;
			continue;
		}

		mmio_write32(d->cfg + reg, 0xffffffff);
		mask = cfg_read32(d, reg) & ~0xfull;
		if (is64) {
			mmio_write32(d->cfg + reg + 4, 0xffffffff);
			mask |= (uint64_t)cfg_read32(d, reg + 4) << 32;
		} else if (mask) {
			mask |= 0xffffffff00000000ull;
		}
		if (!mask) {
			d->bar[b] = 0;
			continue;
		}
		uint64_t size = ~mask + 1;
		next_mmio = (next_mmio + size - 1) & ~(size - 1);
		d->bar[b] = next_mmio;
		next_mmio += size;
		mmio_write32(d->cfg + reg, (uint32_t)d->bar[b]);
		if (is64) {
			mmio_write32(d->cfg + reg + 4, (uint32_t)(d->bar[b] >> 32));
			d->bar[++b] = 0;
		}
	}
	check(next_mmio <= MMIO_END, "%s: BARs fit the MMIO window", d->name);
	mmio_write32(d->cfg + PCI_COMMAND, 0x6); /* memory space, bus master */
}

/* Finds the virtio structures and the MSI-X capability. */
static bool pci_walk_caps(struct vdev *d)
{
	unsigned found = 0;

	if (!(mmio_read32(d->cfg + PCI_COMMAND) & (0x10u << 16)))
		return false;
	for (unsigned p = cfg_read8(d, PCI_CAP_PTR), n = 0; p && n < 48;
	     p = cfg_read8(d, p + 1), n++) {
		uint8_t id = cfg_read8(d, p);

		if (id == PCI_CAP_MSIX) {
			uint32_t tbl = cfg_read32(d, p + 4);
			d->msix_cap = p;
			d->msix_table = d->bar[tbl & 7] + (tbl & ~7u);
			found |= 1;
		} else if (id == PCI_CAP_VNDR) {
			uint8_t type = cfg_read8(d, p + 3), bar = cfg_read8(d, p + 4);
			uintptr_t at = d->bar[bar & 7] + cfg_read32(d, p + 8);

			switch (type) {
			case 1:
				d->common = at;
				found |= 2;
				break;
			case 2:
				d->notify = at;
				d->notify_mult = cfg_read32(d, p + 16);
				found |= 4;
				break;
			case 3: d->isr = at; break;
			case 4:
				d->devcfg = at;
				found |= 8;
				break;
			}
		}
	}
	return found == 15;
}

/* MSI-X entry `vec` sends the queue's interrupt: an LPI through the ITS, or a v2m SPI. */
static void msix_route(struct vdev *d, unsigned vec)
{
	uintptr_t e = d->msix_table + 16 * vec;
	unsigned n = nr_msi++;

	if (gic_version == 3) {
		/* DeviceID = requester ID = BDF, as the DT's msi-map says. */
		its_mapd(d->bdf, tables.itt[n]);
		its_mapti(d->bdf, vec, LPI_BASE + 16 + n, 0);
		its_sync(0);
		d->intid = LPI_BASE + 16 + n;
		mmio_write32(e + 0, (uint32_t)GITS_TRANSLATER);
		mmio_write32(e + 4, 0);
		mmio_write32(e + 8, vec); /* EventID */
	} else {
		d->intid = V2M_SPI0 + n;
		gic_set_edge(d->intid, true);
		gic_set_target(d->intid, 1);
		gic_enable_irq(d->intid);
		mmio_write32(e + 0, (uint32_t)V2M_SETSPI);
		mmio_write32(e + 4, 0);
		mmio_write32(e + 8, d->intid);
	}
	mmio_write32(e + 12, 0); /* unmasked */
	/* MSI-X enable, function mask clear. */
	uint32_t mc = cfg_read32(d, d->msix_cap);
	mmio_write32(d->cfg + d->msix_cap, (mc & 0x3fffffff) | 0x80000000u);
}

/* The driver's side of initialisation (virtio 1.2, 3.1.1), with queue 0 on MSI-X vector 1. */
static bool virtio_setup(struct vdev *d, struct vq *q)
{
	uintptr_t c = d->common;

	mmio_write8(c + VC_STATUS, 0);
	check(mmio_read8(c + VC_STATUS) == 0, "%s: reset", d->name);
	mmio_write8(c + VC_STATUS, ST_ACK);
	mmio_write8(c + VC_STATUS, ST_ACK | ST_DRIVER);
	mmio_write32(c + VC_DFSELECT, 1);
	uint32_t hi = mmio_read32(c + VC_DF);
	check(hi & 1, "%s: offers VIRTIO_F_VERSION_1 (features[63:32] %x)", d->name, hi);
	mmio_write32(c + VC_GFSELECT, 0);
	mmio_write32(c + VC_GF, 0);
	mmio_write32(c + VC_GFSELECT, 1);
	mmio_write32(c + VC_GF, 1);
	mmio_write8(c + VC_STATUS, ST_ACK | ST_DRIVER | ST_FEAT_OK);
	if (!(mmio_read8(c + VC_STATUS) & ST_FEAT_OK)) {
		check(false, "%s: FEATURES_OK accepted", d->name);
		return false;
	}
	check(mmio_read16(c + VC_NUMQ) >= 1, "%s: has a queue", d->name);
	if (use_intx) {
		/* INTA# of slot s: SPI 3 + s % 4 (the DT's interrupt-map), a level. */
		d->intid = 32 + 3 + d->dev % 4;
		intx_isr[d->intid] = d->isr;
		gic_set_edge(d->intid, false);
		gic_set_target(d->intid, 1);
		gic_enable_irq(d->intid);
	} else {
		msix_route(d, 1);
	}
	mmio_write16(c + VC_MSIX, 0xffff);
	mmio_write16(c + VC_QSELECT, 0);
	/* Up to QSIZE entries; at least the 3 descriptors of a block request. */
	d->qsize = mmio_read16(c + VC_QSIZE);
	if (d->qsize > QSIZE)
		d->qsize = QSIZE;
	check(d->qsize >= 4 && !(d->qsize & (d->qsize - 1)), "%s: queue 0 takes %u entries",
	      d->name, d->qsize);
	mmio_write16(c + VC_QSIZE, d->qsize);
	mmio_write16(c + VC_QMSIX, use_intx ? 0xffff : 1);
	if (use_intx)
		check(d->isr && mmio_read16(c + VC_QMSIX) == 0xffff, "%s: queue 0 on INTx (SPI %u)",
		      d->name, d->intid - 32);
	else
		check(mmio_read16(c + VC_QMSIX) == 1, "%s: queue 0 on MSI-X vector 1", d->name);
	mmio_write64(c + VC_QDESC, (uintptr_t)q->desc);
	mmio_write64(c + VC_QDRIVER, (uintptr_t)&q->avail);
	mmio_write64(c + VC_QDEVICE, (uintptr_t)&q->used);
	mmio_write16(c + VC_QENABLE, 1);
	d->vq = q;
	d->notify += (uintptr_t)mmio_read16(c + VC_QNOTIFY) * d->notify_mult;
	mmio_write8(c + VC_STATUS, ST_ACK | ST_DRIVER | ST_FEAT_OK | ST_DRIVER_OK);
	return true;
}

/* Publishes the chain at `head` and waits (up to 2 s) for its interrupt and used entry. */
static bool virtq_run(struct vdev *d, uint16_t head, uint32_t *len)
{
	struct vq *q = d->vq;
	unsigned before = irqs_of(d);

	q->avail.ring[d->avail_idx % d->qsize] = head;
	dsb();
	q->avail.idx = ++d->avail_idx;
	dsb();
	mmio_write16(d->notify, 0);
	uint64_t end = timer_count() + 2 * timer_freq();
	while ((irqs_of(d) == before || *(volatile uint16_t *)&q->used.idx == d->used_seen) &&
	       timer_count() < end)
		;
	if (*(volatile uint16_t *)&q->used.idx == d->used_seen)
		return false;
	*len = q->used.ring[d->used_seen % d->qsize].len;
	d->used_seen++;
	return irqs_of(d) != before;
}

/*
 * BAR claims follow the guest: decoding off and on, a move, and a hostile
 * address on top of the PL011 (refused: the BAR stays undecoded and the UART
 * keeps its page). BAR 4 (64-bit) holds the virtio structures.
 */
static void test_bar_moves(struct vdev *d)
{
	uintptr_t old = d->bar[4], numq = VIRTIO_COMMON_NUMQ(old), moved;
	unsigned reg = PCI_BAR0 + 16;

	check(mmio_read16(numq) == 1, "%s: BAR 4 decodes at %lx", d->name, (unsigned long)old);
	mmio_write32(d->cfg + PCI_COMMAND, 0x4);
	check(mmio_read16(numq) == 0xffff, "%s: memory decoding off, BAR 4 reads all-ones",
	      d->name);
	moved = (next_mmio + 0x3fff) & ~0x3ffful;
	next_mmio = moved + 0x4000;
	mmio_write32(d->cfg + reg, (uint32_t)moved);
	mmio_write32(d->cfg + PCI_COMMAND, 0x6);
	check(mmio_read16(VIRTIO_COMMON_NUMQ(moved)) == 1 && mmio_read16(numq) == 0xffff,
	      "%s: BAR 4 moved to %lx, the old address reads all-ones", d->name,
	      (unsigned long)moved);
	/* Hostile: on the PL011, with decoding on. */
	mmio_write32(d->cfg + reg, (uint32_t)UART_BASE);
	check(mmio_read32(UART_BASE + 0xfe0) == 0x11 &&
		      mmio_read16(VIRTIO_COMMON_NUMQ(moved)) == 0xffff,
	      "%s: BAR 4 over the PL011 is not decoded, the PL011 keeps its page", d->name);
	mmio_write32(d->cfg + reg, (uint32_t)moved);
	d->common += moved - old;
	d->notify += moved - old;
	d->isr += moved - old;
	d->devcfg += moved - old;
	d->bar[4] = moved;
	check(mmio_read16(VIRTIO_COMMON_NUMQ(moved)) == 1, "%s: BAR 4 decodes again at %lx",
	      d->name, (unsigned long)moved);
}

static void test_rng(struct vdev *d, bool kill)
{
	struct vq *q = &rng_vq;
	unsigned rounds = 4, ok = 0;
	/* Killed from outside: keep asking for up to 30 s. */
	uint64_t end = timer_count() + 30 * timer_freq();

	if (!virtio_setup(d, q))
		return;
	for (unsigned i = 0; kill || i < rounds; i++) {
		uint32_t len = 0;
		bool any = false;

		memset(rng_buf, 0, sizeof(rng_buf));
		q->desc[0] = (struct vdesc){ .addr = (uintptr_t)rng_buf,
					     .len = sizeof(rng_buf),
					     .flags = 2 /* WRITE */ };
		if (!virtq_run(d, 0, &len))
			break;
		for (unsigned k = 0; k < sizeof(rng_buf); k++)
			any |= rng_buf[k] != 0;
		if (len == 0 || len > sizeof(rng_buf) || !any)
			break;
		ok++;
		if (kill && i == 2)
			printf("READY: kill the rng device now\n");
		if (kill && timer_count() > end)
			break;
		if (kill)
			udelay(1000);
	}
	if (!kill) {
		check(ok == rounds,
		      "virtio-rng: %u of %u requests answered with random bytes and an interrupt",
		      ok, rounds);
		return;
	}
	check(ok >= 3 && timer_count() <= end,
	      "virtio-rng: served %u requests, then stopped answering", ok);
	check((uint16_t)cfg_read32(d, 0) == 0xffff,
	      "virtio-rng: gone, its configuration space reads all-ones");
	check(mmio_read32(d->common + VC_DF) == 0xffffffff,
	      "virtio-rng: gone, its BAR reads all-ones");
}

/* mov w0, #imm; ret */
#define MOVW0(imm) (0x52800000u | ((uint32_t)(imm) << 5))
#define RET	   0xd65f03c0u

static uint32_t dma_code[1024] __attribute__((aligned(4096)));

static unsigned call_dma_code(void)
{
	unsigned (*fn)(void) = (unsigned (*)(void))(uintptr_t)dma_code;

	return fn();
}

static uint32_t pattern(uint64_t word)
{
	return (uint32_t)(word * 0x9e3779b1u);
}

/* One request: header, data (device-writable for IN), status. Returns the status. */
static uint8_t blk_io(struct vdev *d, uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	struct vq *q = d->vq;
	uint32_t used = 0;

	blk_hdr.type = type;
	blk_hdr.reserved = 0;
	blk_hdr.sector = sector;
	blk_status = 0xee;
	q->desc[0] = (struct vdesc){
		.addr = (uintptr_t)&blk_hdr, .len = sizeof(blk_hdr), .flags = 1, .next = 1
	};
	q->desc[1] =
		(struct vdesc){ .addr = (uintptr_t)buf, .len = len, .flags = 1 | 2, .next = 2 };
	q->desc[2] = (struct vdesc){ .addr = (uintptr_t)&blk_status, .len = 1, .flags = 2 };
	if (!virtq_run(d, 0, &used))
		return 0xff;
	return blk_status;
}

static void test_blk(struct vdev *d)
{
	if (!virtio_setup(d, &blk_vq))
		return;
	uint64_t sectors = mmio_read32(d->devcfg) | (uint64_t)mmio_read32(d->devcfg + 4) << 32;
	check(sectors * 512 == sizeof(blk_data), "virtio-blk: capacity %u sectors",
	      (unsigned)sectors);
	unsigned bad = 0, reqs = 0;
	memset(blk_data, 0, sizeof(blk_data));
	for (uint64_t s = 0; s < sizeof(blk_data) / 512; s += 32, reqs++) {
		uint8_t st = blk_io(d, 0, s, blk_data + s * 512, 32 * 512);
		if (st != 0) {
			check(false, "virtio-blk: read of sectors %u.. status %u", (unsigned)s, st);
			return;
		}
	}
	/* The last sector holds code (mov w0, #42; ret) instead of the pattern. */
	for (uint64_t w = 0; w < (sectors - 1) * 128; w++)
		bad += ((uint32_t *)blk_data)[w] != pattern(w);
	check(bad == 0,
	      "virtio-blk: %u reads with interrupts, the disk's pattern is intact (%u bad words)",
	      reqs, bad);

	/*
	 * Code the vCPU has run, overwritten by the device's DMA: the VMM must drop
	 * the engine's translation of it. The guest does no IC maintenance here on
	 * purpose: it is the VMM's DMA-coherency duty that is tested.
	 */
	dma_code[0] = MOVW0(7);
	dma_code[1] = RET;
	__asm__ volatile("dc cvau, %0\n dsb ish\n ic ialluis\n dsb ish\n isb" ::"r"(dma_code)
			 : "memory");
	unsigned first = call_dma_code() + call_dma_code();
	uint8_t st = blk_io(d, 0, sectors - 1, dma_code, 512);
	dsb();
	isb();
	unsigned got = call_dma_code();
	check(first == 14 && st == 0 && got == 42,
	      "virtio-blk: code read by DMA over code that ran is what runs next (%u, want 42)",
	      got);
	check(blk_io(d, 0, sectors, blk_data, 512) == 1,
	      "virtio-blk: a read past the end fails (IOERR)");
}

/*
 * With "bench" on the command line: request rates through the whole path
 * (notify, the device, the used ring, MSI-X, the interrupt), printed as
 * "BENCH name value unit" for scripts/bench-guests.sh.
 */
static void bench_rng(struct vdev *d)
{
	struct vq *q = d->vq;
	unsigned n = 0;
	uint32_t len;
	uint64_t t0 = timer_count(), t1;

	do {
		q->desc[0] = (struct vdesc){ .addr = (uintptr_t)rng_buf, .len = 16, .flags = 2 };
		if (!virtq_run(d, 0, &len))
			return;
		n++;
		t1 = timer_count();
	} while (t1 - t0 < timer_freq() / 2);
	printf("BENCH virtio_rng_requests %lu req/s\n", (uint64_t)n * timer_freq() / (t1 - t0));
}

static void bench_blk(struct vdev *d)
{
	uint64_t bytes = 0, t0 = timer_count(), t1;

	do {
		if (blk_io(d, 0, 0, blk_data, 32768) != 0)
			return;
		bytes += 32768;
		t1 = timer_count();
	} while (t1 - t0 < timer_freq() / 2);
	printf("BENCH virtio_blk_read %lu KiB/s\n", bytes * timer_freq() / (t1 - t0) / 1024);
}

void guest_main(void)
{
	struct vdev devs[8];
	unsigned nr = 0;
	bool want_rng = dt_mentions("expect-rng"), want_blk = dt_mentions("expect-blk");
	bool kill = dt_mentions("kill-rng"), rng_seen = false, blk_seen = false;
	bool bench = dt_mentions("bench");

	gic_dist_init();
	gic_cpu_init();
	if (gic_version == 3 && !its_present()) {
		/* No MSI controller: the functions interrupt through INTx. */
		use_intx = true;
	} else if (gic_version == 3) {
		its_init(&tables);
		its_redist_enable_lpis();
		its_mapc(0, 0);
	}
	set_irq_handler(pci_irq);
	irq_enable();
	check(dt_mentions("pci-host-ecam-generic"), "the DT has a generic ECAM host bridge");

	for (unsigned dev = 0; dev < 32 && nr < 8; dev++) {
		uintptr_t cfg = ECAM_BASE + ((uintptr_t)dev << 15);
		uint32_t id = mmio_read32(cfg);

		if ((id & 0xffff) == 0xffff)
			continue;
		if ((id & 0xffff) != VIRTIO_VENDOR)
			continue;
		struct vdev *d = &devs[nr++];
		memset(d, 0, sizeof(*d));
		d->dev = dev;
		d->bdf = (uint16_t)(dev << 3);
		d->cfg = cfg;
		/* Modern IDs (ivy), or transitional ones (QEMU's default). */
		uint16_t did = (uint16_t)(id >> 16);
		if (did == VIRTIO_DEV_RNG || did == 0x1005)
			d->name = "virtio-rng";
		else if (did == VIRTIO_DEV_BLK || did == 0x1001)
			d->name = "virtio-blk";
		else {
			nr--;
			continue;
		}
		printf("found %s at 00:%02x.0\n", d->name, dev);
	}
	for (unsigned i = 0; i < nr; i++) {
		struct vdev *d = &devs[i];
		pci_assign_bars(d);
		if (!pci_walk_caps(d)) {
			check(false, "%s: virtio and MSI-X capabilities found", d->name);
			continue;
		}
		if (d->name[7] == 'r') {
			rng_seen = true;
			if (!kill && d->common == d->bar[4])
				test_bar_moves(d);
			test_rng(d, kill);
			if (bench)
				bench_rng(d);
		} else {
			blk_seen = true;
			test_blk(d);
			if (bench)
				bench_blk(d);
		}
	}
	if (want_rng)
		check(rng_seen, "a virtio-rng function was found");
	if (want_blk)
		check(blk_seen, "a virtio-blk function was found");
	irq_disable();
}
