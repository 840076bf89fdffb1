/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the core API with random sequences: MMIO regions registered and
 * removed, RAM slots, guest accesses of every width, and devices of every
 * type with random attribute calls. A shadow model of the bus checks that
 * every access reaches exactly the device that claims it.
 */
#include <ivy/ivy.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REGIONS 16
#define MAX_DEVICES 4

struct input {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

struct shadow {
	struct ivy_mmio_region *region;
	ivy_gpa_t base;
	uint64_t len;
	uint64_t id;
};

static uint64_t shadow_read(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len)
{
	const struct shadow *s = opaque;

	(void)vcpu;
	if (offset + len > s->len)
		abort(); /* the bus gave a handler an access outside its region */
	return s->id;
}

static void shadow_write(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len,
			 uint64_t val)
{
	(void)shadow_read(opaque, vcpu, offset, len);
	(void)val;
}

static const struct ivy_mmio_ops shadow_ops = { .read = shadow_read, .write = shadow_write };

/* Small addresses so that regions, RAM and accesses collide often. */
static ivy_gpa_t pick_addr(struct input *in)
{
	return take(in, 2) << (take(in, 1) % 20);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ram[4][8192];
	static const uint32_t types[] = { IVY_DEV_TYPE_ARM_VGIC_V2, IVY_DEV_TYPE_ARM_VGIC_V3,
					  IVY_DEV_TYPE_ARM_VGIC_ITS, 0 };
	struct input in = { data, size };
	struct shadow regions[MAX_REGIONS] = { 0 };
	struct ivy_device *devs[MAX_DEVICES] = { 0 };
	struct ivy_vm_config cfg = { .nr_vcpus = 1 + take(&in, 1) % 4,
				     .max_vcpus = 8,
				     .ipa_bits = 32 };
	struct ivy_vm *vm;

	if (ivy_vm_create(&cfg, &vm))
		abort();
	while (in.left) {
		unsigned op = take(&in, 1) % 8, k = take(&in, 1);
		struct shadow *s = &regions[k % MAX_REGIONS];

		switch (op) {
		case 0: /* register a region */
			if (s->region)
				break;
			s->base = pick_addr(&in);
			s->len = 1 + take(&in, 2);
			s->id = 0x80 + k % MAX_REGIONS; /* fits every access width */
			if (ivy_mmio_register(vm, s->base, s->len, &shadow_ops, s, &s->region))
				s->region = NULL;
			break;
		case 1: /* remove it */
			if (s->region && ivy_mmio_unregister(vm, s->region))
				abort();
			s->region = NULL;
			break;
		case 2: { /* an access, checked against the shadow */
			struct ivy_vcpu *v = ivy_vm_vcpu(vm, k % cfg.nr_vcpus);
			static const unsigned widths[] = { 1, 2, 4, 8, 3, 0 };
			unsigned len = widths[take(&in, 1) % 6];
			ivy_gpa_t gpa = pick_addr(&in);
			uint64_t val = take(&in, 8),
				 want = len == 8 ? ~0ull : (1ull << (8 * len)) - 1;
			bool write = k & 1;
			int ret = ivy_vcpu_mmio(v, gpa, len, write, &val);

			if (len != 1 && len != 2 && len != 4 && len != 8) {
				if (ret != -EINVAL)
					abort();
				break;
			}
			if (ret)
				abort();
			for (unsigned i = 0; i < MAX_REGIONS; i++) {
				const struct shadow *r = &regions[i];

				if (r->region && gpa >= r->base && gpa - r->base < r->len &&
				    len <= r->len - (gpa - r->base))
					want = r->id;
			}
			/* Devices created below may also claim addresses; only check ours. */
			if (!write && want >= 0x80 && want < 0x80 + MAX_REGIONS && val != want)
				abort();
			break;
		}
		case 3: /* RAM */
			(void)ivy_vm_add_ram(vm, pick_addr(&in) & ~0xfffull, 4096 * (1 + k % 2),
					     ram[k % 4]);
			break;
		case 4: { /* guest memory access */
			uint8_t buf[64];
			size_t len = take(&in, 1) % sizeof(buf);
			ivy_gpa_t gpa = pick_addr(&in);

			if (k & 1)
				(void)ivy_guest_read(vm, gpa, buf, len);
			else
				(void)ivy_guest_write(vm, gpa, memset(buf, k, len), len);
			break;
		}
		case 5: { /* create or destroy a device */
			struct ivy_device **d = &devs[k % MAX_DEVICES];

			if (*d) {
				if (ivy_device_destroy(*d))
					abort();
				*d = NULL;
			} else if (ivy_device_create(vm, types[take(&in, 1) % 4], d)) {
				*d = NULL;
			}
			break;
		}
		case 6: { /* an attribute call */
			struct ivy_device *d = devs[k % MAX_DEVICES];
			uint64_t value = take(&in, 8);
			struct ivy_device_attr a = { .group = take(&in, 1) % 12,
						     .attr = take(&in, 8),
						     .addr = (k & 4) ? NULL : &value };

			if (!d)
				break;
			switch (k % 3) {
			case 0: (void)ivy_device_set_attr(d, &a); break;
			case 1: (void)ivy_device_get_attr(d, &a); break;
			default: (void)ivy_device_has_attr(d, &a); break;
			}
			break;
		}
		default: { /* add a vCPU */
			struct ivy_vcpu *v;

			(void)ivy_vcpu_create(vm, k % 8, &v);
			break;
		}
		}
	}
	if (take(&in, 1) & 1)
		(void)ivy_vm_destroy(vm);
	ivy_vm_close(vm);
	return 0;
}
