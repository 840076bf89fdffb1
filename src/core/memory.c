/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM: (guest-physical base, size, host pointer) slots, kept sorted and
 * non-overlapping, and bounds-checked copies in and out of them. The ITS and
 * the I/O-request engine read guest-supplied addresses through these, so an
 * access must lie wholly inside RAM or it does not happen at all.
 */
#include "core.h"

#include <errno.h>
#include <string.h>

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

bool mem_overlaps_locked(struct ivy_vm *vm, ivy_gpa_t gpa, uint64_t len)
{
	for (uint32_t i = 0; i < vm->nr_mem_slots; i++)
		if (ranges_overlap(gpa, len, vm->mem_slots[i].gpa, vm->mem_slots[i].size))
			return true;
	return false;
}

int ivy_vm_add_ram(struct ivy_vm *vm, ivy_gpa_t gpa, uint64_t size, void *hva)
{
	uint32_t pos;
	int ret = 0;

	if (!vm || !hva || size == 0 || (gpa | size) & (IVY_PAGE_SIZE - 1) || gpa + size < gpa)
		return -EINVAL;
	if (!vm_gpa_range_valid(vm, gpa, size))
		return -E2BIG;

	pthread_mutex_lock(&vm->config_lock);
	if (vm_is_destroyed(vm)) {
		ret = -ENODEV;
		goto out;
	}
	if (mem_overlaps_locked(vm, gpa, size) || mmio_overlaps_locked(vm, gpa, size)) {
		ret = -EEXIST;
		goto out;
	}
	if (vm->nr_mem_slots == IVY_MAX_RAM_SLOTS) {
		ret = -ENOSPC;
		goto out;
	}
	pthread_rwlock_wrlock(&vm->mem_lock);
	for (pos = 0; pos < vm->nr_mem_slots && vm->mem_slots[pos].gpa < gpa; pos++)
		;
	memmove(&vm->mem_slots[pos + 1], &vm->mem_slots[pos],
		(vm->nr_mem_slots - pos) * sizeof(vm->mem_slots[0]));
	vm->mem_slots[pos] = (struct mem_slot){ .gpa = gpa, .size = size, .hva = hva };
	vm->nr_mem_slots++;
	pthread_rwlock_unlock(&vm->mem_lock);
out:
	pthread_mutex_unlock(&vm->config_lock);
	return ret;
}

int ivy_vm_remove_ram(struct ivy_vm *vm, ivy_gpa_t gpa)
{
	int ret = -ENOENT;

	if (!vm)
		return -EINVAL;
	pthread_mutex_lock(&vm->config_lock);
	pthread_rwlock_wrlock(&vm->mem_lock);
	for (uint32_t i = 0; i < vm->nr_mem_slots; i++) {
		if (vm->mem_slots[i].gpa == gpa) {
			memmove(&vm->mem_slots[i], &vm->mem_slots[i + 1],
				(vm->nr_mem_slots - i - 1) * sizeof(vm->mem_slots[0]));
			vm->nr_mem_slots--;
			ret = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&vm->mem_lock);
	pthread_mutex_unlock(&vm->config_lock);
	return ret;
}

/* The slot containing gpa, or NULL. Caller holds mem_lock. */
static const struct mem_slot *slot_find_locked(struct ivy_vm *vm, ivy_gpa_t gpa)
{
	uint32_t lo = 0, hi = vm->nr_mem_slots;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct mem_slot *s = &vm->mem_slots[mid];

		if (gpa < s->gpa)
			hi = mid;
		else if (gpa - s->gpa >= s->size)
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
}

/*
 * Checks that [gpa, gpa + len) is RAM, possibly across adjacent slots, before
 * anything is copied: a partial copy would be a half-done access.
 */
static bool range_is_ram_locked(struct ivy_vm *vm, ivy_gpa_t gpa, size_t len)
{
	while (len) {
		const struct mem_slot *s = slot_find_locked(vm, gpa);
		uint64_t avail;

		if (!s)
			return false;
		avail = s->size - (gpa - s->gpa);
		if (avail >= len)
			return true;
		gpa += avail;
		len -= avail;
	}
	return true;
}

static int guest_copy(struct ivy_vm *vm, ivy_gpa_t gpa, void *buf, size_t len, bool to_guest)
{
	uint8_t *p = buf;
	int ret = 0;

	if (!vm || (!buf && len))
		return -EINVAL;
	if (len == 0)
		return 0;
	if (gpa + len < gpa)
		return -EFAULT;
	pthread_rwlock_rdlock(&vm->mem_lock);
	if (!range_is_ram_locked(vm, gpa, len)) {
		ret = -EFAULT;
		goto out;
	}
	while (len) {
		const struct mem_slot *s = slot_find_locked(vm, gpa);
		uint64_t off = gpa - s->gpa;
		size_t n = s->size - off < len ? (size_t)(s->size - off) : len;

		if (to_guest)
			memcpy(s->hva + off, p, n);
		else
			memcpy(p, s->hva + off, n);
		gpa += n;
		p += n;
		len -= n;
	}
out:
	pthread_rwlock_unlock(&vm->mem_lock);
	return ret;
}

int ivy_guest_read(struct ivy_vm *vm, ivy_gpa_t gpa, void *buf, size_t len)
{
	return guest_copy(vm, gpa, buf, len, false);
}

int ivy_guest_write(struct ivy_vm *vm, ivy_gpa_t gpa, const void *buf, size_t len)
{
	return guest_copy(vm, gpa, (void *)buf, len, true);
}

void *ivy_guest_ptr(struct ivy_vm *vm, ivy_gpa_t gpa, size_t len)
{
	const struct mem_slot *s;
	void *p = NULL;

	if (!vm || len == 0 || gpa + len < gpa)
		return NULL;
	pthread_rwlock_rdlock(&vm->mem_lock);
	s = slot_find_locked(vm, gpa);
	if (s && len <= s->size - (gpa - s->gpa))
		p = s->hva + (gpa - s->gpa);
	pthread_rwlock_unlock(&vm->mem_lock);
	return p;
}
