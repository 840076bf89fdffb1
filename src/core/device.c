/* SPDX-License-Identifier: MIT */
/*
 * The device framework: KVM_CREATE_DEVICE and KVM_{SET,GET,HAS}_DEVICE_ATTR in
 * a library. Each device type is one const ops table; the core checks what is
 * common to every attribute call (flags, the value pointer, a live VM) so that
 * the types only decode their own groups.
 */
#include "core.h"
#include "gic/its.h"
#include "gic/vgic.h"

#include <errno.h>
#include <stdlib.h>

/* Types compiled into the library. The interrupt controllers add themselves here. */
static const struct device_type *const builtin_types[] = {
	&vgic_v2_device_type,
	&vgic_v3_device_type,
	&its_device_type,
};

/* Protects: extra_types. */
static pthread_mutex_t types_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct device_type *extra_types[8];

const struct device_type *device_type_find(uint32_t type)
{
	const struct device_type *found = NULL;

	for (size_t i = 0; i < IVY_ARRAY_SIZE(builtin_types); i++)
		if (builtin_types[i] && builtin_types[i]->type == type)
			return builtin_types[i];
	pthread_mutex_lock(&types_lock);
	for (size_t i = 0; i < IVY_ARRAY_SIZE(extra_types); i++)
		if (extra_types[i] && extra_types[i]->type == type)
			found = extra_types[i];
	pthread_mutex_unlock(&types_lock);
	return found;
}

int device_type_register(const struct device_type *type)
{
	int ret = -ENOSPC;

	if (!type || !type->create || !type->destroy || !type->set_attr || !type->get_attr ||
	    !type->has_attr)
		return -EINVAL;
	if (device_type_find(type->type))
		return -EEXIST;
	pthread_mutex_lock(&types_lock);
	for (size_t i = 0; i < IVY_ARRAY_SIZE(extra_types); i++) {
		if (!extra_types[i]) {
			extra_types[i] = type;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&types_lock);
	return ret;
}

int ivy_device_create(struct ivy_vm *vm, uint32_t type, struct ivy_device **out)
{
	const struct device_type *t = device_type_find(type);
	struct ivy_device *dev;
	int ret;

	if (!vm || !out)
		return -EINVAL;
	if (!t)
		return -ENODEV;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->vm = vm;
	dev->type = t;
	pthread_mutex_init(&dev->attr_lock, NULL);

	pthread_mutex_lock(&vm->config_lock);
	if (vm_is_destroyed(vm)) {
		ret = -ENODEV;
		goto err_create;
	}
	ret = t->create(dev);
	if (ret)
		goto err_create;
	dev->next = vm->devices;
	vm->devices = dev;
	pthread_mutex_unlock(&vm->config_lock);
	*out = dev;
	return 0;

err_create:
	pthread_mutex_unlock(&vm->config_lock);
	pthread_mutex_destroy(&dev->attr_lock);
	free(dev);
	return ret;
}

static void device_free(struct ivy_device *dev)
{
	dev->type->destroy(dev);
	pthread_mutex_destroy(&dev->attr_lock);
	free(dev);
}

int ivy_device_destroy(struct ivy_device *dev)
{
	struct ivy_vm *vm;
	struct ivy_device **pp;
	int ret = -ENOENT;

	if (!dev)
		return -EINVAL;
	vm = dev->vm;
	pthread_mutex_lock(&vm->config_lock);
	for (pp = &vm->devices; *pp; pp = &(*pp)->next) {
		if (*pp == dev) {
			*pp = dev->next;
			device_free(dev);
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&vm->config_lock);
	return ret;
}

void device_destroy_all_locked(struct ivy_vm *vm)
{
	while (vm->devices) {
		struct ivy_device *dev = vm->devices;

		vm->devices = dev->next;
		device_free(dev);
	}
}

int device_vcpu_create_locked(struct ivy_vm *vm, struct ivy_vcpu *vcpu)
{
	for (struct ivy_device *dev = vm->devices; dev; dev = dev->next) {
		int ret = dev->type->vcpu_create ? dev->type->vcpu_create(dev, vcpu) : 0;

		if (ret)
			return ret;
	}
	return 0;
}

enum attr_op { ATTR_SET, ATTR_GET, ATTR_HAS };

static int device_attr(struct ivy_device *dev, const struct ivy_device_attr *attr, enum attr_op op)
{
	int ret;

	if (!dev || !attr)
		return -EINVAL;
	if (attr->flags)
		return -EINVAL;
	if (op != ATTR_HAS && !attr->addr)
		return -EFAULT;
	if (vm_is_destroyed(dev->vm))
		return -ENODEV;
	pthread_mutex_lock(&dev->attr_lock);
	switch (op) {
	case ATTR_SET: ret = dev->type->set_attr(dev, attr); break;
	case ATTR_GET: ret = dev->type->get_attr(dev, attr); break;
	default: ret = dev->type->has_attr(dev, attr); break;
	}
	pthread_mutex_unlock(&dev->attr_lock);
	return ret;
}

int ivy_device_set_attr(struct ivy_device *dev, const struct ivy_device_attr *attr)
{
	return device_attr(dev, attr, ATTR_SET);
}

int ivy_device_get_attr(struct ivy_device *dev, const struct ivy_device_attr *attr)
{
	return device_attr(dev, attr, ATTR_GET);
}

int ivy_device_has_attr(struct ivy_device *dev, const struct ivy_device_attr *attr)
{
	return device_attr(dev, attr, ATTR_HAS);
}

uint32_t ivy_device_type(const struct ivy_device *dev)
{
	return dev->type->type;
}
struct ivy_vm *ivy_device_vm(const struct ivy_device *dev)
{
	return dev->vm;
}
