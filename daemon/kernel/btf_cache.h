/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cut-down kernel BTF (btf_min.h) kept on disk, one file per kernel and
 * BPF object, so that a cold start after a reboot need not parse the
 * kernel's full BTF.
 */
#ifndef GREETER_BTF_CACHE_H
#define GREETER_BTF_CACHE_H

#include <linux/types.h>
#include <stddef.h>

/*
 * The cache file for the running kernel and the BPF object identified by
 * object_id: <dir>/vmlinux-<key>.btf. The key covers the kernel's build ID,
 * release, version and BTF size, the object and this file's format. Fails
 * with -ENOENT when the kernel has no build ID (no key to trust).
 */
int btf_cache_path(const char *dir, __u64 object_id, char *out, size_t size);

/*
 * Write the cache file `path` in `dir`, cut from /sys/kernel/btf/vmlinux for
 * the object's BTF (elf, size). Replaces the file atomically and removes the
 * files of other kernels or objects. An error is in err.
 */
int btf_cache_write(const char *dir, const char *path, const void *elf, size_t elf_size,
		    char *err, size_t err_size);

#endif
