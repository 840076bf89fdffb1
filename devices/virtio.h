/* SPDX-License-Identifier: MIT */
/*
 * virtio 1.x devices over the PCI transport (virtio-pci "modern"), with split
 * virtqueues, built on the PCI function model. Spec: Virtual I/O Device
 * (VIRTIO) Version 1.2, sections 2 (basic facilities), 4.1 (PCI) and 5.
 *
 * Layout chosen by ivy (all in 64-bit memory BAR 4, 16 KiB):
 *   0x0000 common configuration   0x1000 ISR status
 *   0x2000 device configuration   0x3000 notifications (4 bytes per queue)
 * and MSI-X (one vector per queue plus one for configuration changes) in
 * 32-bit BAR 1: table at 0x000, PBA at 0x800.
 *
 * The driver is hostile: descriptor chains that loop, point outside guest
 * RAM, or overflow are refused, and the device enters DEVICE_NEEDS_RESET
 * (section 2.1.2) instead of looping or touching host memory.
 */
#ifndef IVY_DEVICES_VIRTIO_H
#define IVY_DEVICES_VIRTIO_H

#include "pci.h"

#include <pthread.h>

#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* + virtio device ID */

#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG	4

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED	  0x80

#define VIRTIO_F_VERSION_1 32

/* Descriptor flags (2.7.5). */
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

#define VIRTIO_MSI_NO_VECTOR 0xffff
#define VIRTQ_MAX_SIZE	     256
#define VIRTQ_MAX_SEG	     128
#define VIRTIO_CONFIG_MAX    256

#define VIRTIO_BAR	   4
#define VIRTIO_BAR_SIZE	   0x4000
#define VIRTIO_COMMON_OFF  0x0000
#define VIRTIO_ISR_OFF	   0x1000
#define VIRTIO_DEVICE_OFF  0x2000
#define VIRTIO_NOTIFY_OFF  0x3000
#define VIRTIO_NOTIFY_MULT 4
#define VIRTIO_MSIX_BAR	   1

/* Guest memory as a device reaches it (its DMA). Both return 0 or -errno. */
struct virtio_mem_ops {
	int (*read)(void *opaque, uint64_t gpa, void *buf, size_t len);
	int (*write)(void *opaque, uint64_t gpa, const void *buf, size_t len);
};

struct virtq {
	uint16_t size; /* chosen by the driver, a power of two <= VIRTQ_MAX_SIZE */
	uint16_t msix_vector;
	bool enabled;
	uint64_t desc, avail, used;
	uint16_t last_avail; /* next avail ring entry the device will take */
	uint16_t used_idx;   /* next used ring entry the device will fill */
};

/* One descriptor chain taken from a queue. */
struct virtq_elem {
	uint16_t head;
	uint16_t nr_seg;
	uint32_t out_len, in_len; /* bytes readable / writable by the device */
	struct virtq_seg {
		uint64_t addr;
		uint32_t len;
		bool write; /* device-writable */
	} seg[VIRTQ_MAX_SEG];
};

struct virtio_dev;

struct virtio_dev_ops {
	uint32_t device_id;   /* VIRTIO_ID_* */
	uint32_t class_code;  /* PCI class */
	uint64_t features;    /* device features; VERSION_1 is added */
	uint16_t nr_queues;   /* at most 8 */
	uint16_t config_size; /* bytes of device configuration */
	/* The driver notified queue q (with the device lock held). */
	void (*queue_notify)(struct virtio_dev *dev, uint16_t q);
	/* The device was reset by the driver (lock held); may be NULL. */
	void (*reset)(struct virtio_dev *dev);
	/* Frees dev->priv; may be NULL. */
	void (*destroy)(struct virtio_dev *dev);
};

#define VIRTIO_MAX_QUEUES 8

struct virtio_dev {
	struct pci_func pci;
	const struct virtio_dev_ops *ops;
	const struct virtio_mem_ops *mem;
	void *mem_opaque;
	void *priv; /* the device type's state */
	/* Protects: everything below and pci, against concurrent vCPUs. */
	pthread_mutex_t lock;
	uint32_t device_feature_select, driver_feature_select;
	uint64_t driver_features;
	uint16_t config_msix_vector;
	uint8_t status;
	uint8_t config_generation;
	uint16_t queue_select;
	uint8_t isr;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	uint8_t config[VIRTIO_CONFIG_MAX]; /* device configuration, filled by the type */
	uint64_t stat_bad_chain;	   /* chains refused as malformed */
};

/* Builds a device; `pci_host` raises its MSIs and INTx. Returns 0 or -errno. */
int virtio_dev_init(struct virtio_dev *dev, uint16_t bdf, const struct virtio_dev_ops *ops,
		    const struct virtio_mem_ops *mem, void *mem_opaque,
		    const struct pci_host_ops *pci_host, void *host_opaque);
void virtio_dev_free(struct virtio_dev *dev);
/* A bus or board reset: the device and its PCI function back to their power-on state. */
void virtio_dev_reset(struct virtio_dev *dev);

/* Guest accesses: configuration space (by register) and memory (by guest-physical address). */
uint32_t virtio_cfg_read(struct virtio_dev *dev, uint32_t reg, unsigned len);
void virtio_cfg_write(struct virtio_dev *dev, uint32_t reg, unsigned len, uint32_t val);
/* Returns false if no BAR of the device decodes gpa. */
bool virtio_mmio(struct virtio_dev *dev, uint64_t gpa, unsigned len, bool is_write, uint64_t *val);

/*
 * For device types, called with the device lock held:
 * virtq_pop takes the next available chain: 1 taken, 0 none, -EIO malformed
 * (the device is now in DEVICE_NEEDS_RESET). virtq_push returns it with
 * `written` bytes. virtq_notify interrupts the driver for the queue.
 */
int virtq_pop(struct virtio_dev *dev, struct virtq *vq, struct virtq_elem *elem);
int virtq_push(struct virtio_dev *dev, struct virtq *vq, const struct virtq_elem *elem,
	       uint32_t written);
void virtq_notify(struct virtio_dev *dev, struct virtq *vq);
/* Copy out of the chain's readable part / into its writable part, from byte `off`. */
int virtq_elem_read(struct virtio_dev *dev, const struct virtq_elem *elem, uint32_t off, void *buf,
		    uint32_t len);
int virtq_elem_write(struct virtio_dev *dev, const struct virtq_elem *elem, uint32_t off,
		     const void *buf, uint32_t len);

/* virtio-blk backed by a file descriptor (section 5.2). */
struct virtio_blk_config {
	int fd;
	uint64_t size; /* bytes; rounded down to 512-byte sectors */
	bool read_only;
	const char *serial;  /* up to 20 bytes, for GET_ID */
	uint16_t num_queues; /* request queues (VIRTIO_BLK_F_MQ); 0 means 1 */
};
int virtio_blk_init(struct virtio_dev *dev, uint16_t bdf, const struct virtio_blk_config *cfg,
		    const struct virtio_mem_ops *mem, void *mem_opaque,
		    const struct pci_host_ops *pci_host, void *host_opaque);

/* virtio-rng (section 5.4), filling buffers from getrandom(2). */
int virtio_rng_init(struct virtio_dev *dev, uint16_t bdf, const struct virtio_mem_ops *mem,
		    void *mem_opaque, const struct pci_host_ops *pci_host, void *host_opaque);

#endif
