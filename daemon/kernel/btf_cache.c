// SPDX-License-Identifier: LGPL-2.1-or-later
#include "kernel.h"

#include "btf_min.h"
#include "dirs.h"
#include "file_replace.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define KERNEL_NOTES "/sys/kernel/notes"
#define KERNEL_BTF "/sys/kernel/btf/vmlinux"
#define NT_GNU_BUILD_ID 3
#define FILE_PREFIX "vmlinux-"
#define FILE_SUFFIX ".btf"
/* Bump when btf_min.c changes what it writes: old files are then not used. */
#define CACHE_FORMAT 1

static void fnv1a(__u64 *h, const void *data, size_t size)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < size; i++) {
		*h ^= p[i];
		*h *= 0x100000001b3ULL;
	}
}

static void fnv1a_str(__u64 *h, const char *s)
{
	fnv1a(h, s, strlen(s) + 1);
}

/* The GNU build ID of the running kernel, from its ELF notes. */
static int kernel_build_id(unsigned char *id, size_t size, size_t *len)
{
	unsigned char buf[4096];
	ssize_t n;
	size_t off = 0;
	int fd = open(KERNEL_NOTES, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -errno;
	while (off + 12 <= (size_t)n) {
		__u32 namesz, descsz, type;
		size_t name_off = off + 12, desc_off, next;

		memcpy(&namesz, buf + off, 4);
		memcpy(&descsz, buf + off + 4, 4);
		memcpy(&type, buf + off + 8, 4);
		desc_off = name_off + ((namesz + 3) & ~3U);
		next = desc_off + ((descsz + 3) & ~3U);
		if (namesz > (size_t)n || descsz > (size_t)n || next > (size_t)n)
			break;
		if (type == NT_GNU_BUILD_ID && namesz == 4 && memcmp(buf + name_off, "GNU", 4) == 0 &&
		    descsz > 0 && descsz <= size) {
			memcpy(id, buf + desc_off, descsz);
			*len = descsz;
			return 0;
		}
		off = next;
	}
	return -ENOENT;
}

int btf_cache_path(const char *dir, __u64 object_id, char *out, size_t size)
{
	unsigned char id[64];
	size_t id_len = 0;
	struct utsname u;
	struct stat st;
	__u64 h = 0xcbf29ce484222325ULL;
	__u32 format = CACHE_FORMAT;
	int r;

	r = kernel_build_id(id, sizeof(id), &id_len);
	if (r < 0)
		return r;
	if (stat(KERNEL_BTF, &st) < 0)
		return -errno;
	if (uname(&u) < 0)
		return -errno;
	fnv1a(&h, &format, sizeof(format));
	fnv1a(&h, id, id_len);
	fnv1a(&h, &st.st_size, sizeof(st.st_size));
	fnv1a_str(&h, u.release);
	fnv1a_str(&h, u.version);
	fnv1a_str(&h, u.machine);
	fnv1a(&h, &object_id, sizeof(object_id));
	r = snprintf(out, size, "%s/" FILE_PREFIX "%016llx" FILE_SUFFIX, dir,
		     (unsigned long long)h);
	return r < 0 || (size_t)r >= size ? -ENAMETOOLONG : 0;
}

static bool is_cache_file(const char *name)
{
	size_t n = strlen(name);

	return strncmp(name, FILE_PREFIX, strlen(FILE_PREFIX)) == 0 &&
	       n > strlen(FILE_SUFFIX) && strcmp(name + n - strlen(FILE_SUFFIX), FILE_SUFFIX) == 0;
}

/* Other kernels' and objects' files: a kernel update leaves no garbage. */
static void remove_others(const char *dir, const char *keep_name)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (is_cache_file(e->d_name) && strcmp(e->d_name, keep_name) != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

int btf_cache_write(const char *dir, const char *path, const void *elf, size_t elf_size,
		    char *err, size_t err_size)
{
	struct bpf_object *obj = NULL;
	struct btf *vmlinux = NULL, *min = NULL;
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const void *raw;
	__u32 raw_size;
	int r;

	r = dirs_make(dir, 0755);
	if (r < 0) {
		snprintf(err, err_size, "cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	obj = bpf_object__open_mem(elf, elf_size, NULL);
	if (!obj || !bpf_object__btf(obj)) {
		r = obj ? -ENODATA : -errno;
		snprintf(err, err_size, "cannot read the BPF object's BTF: %s", strerror(-r));
		goto out;
	}
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux) {
		r = -errno;
		snprintf(err, err_size, "cannot read %s: %s", KERNEL_BTF, strerror(-r));
		goto out;
	}
	min = btf_min_new(vmlinux, bpf_object__btf(obj), err, err_size);
	if (!min) {
		r = -errno;
		goto out;
	}
	raw = btf__raw_data(min, &raw_size);
	if (!raw) {
		r = -ENOMEM;
		snprintf(err, err_size, "out of memory");
		goto out;
	}
	/* Not durable: a file lost in a crash is written again, a torn one fails to parse. */
	r = file_replace(dir, name, raw, raw_size, false, err, err_size);
	if (r == 0)
		remove_others(dir, name);
out:
	btf__free(min);
	btf__free(vmlinux);
	bpf_object__close(obj);
	return r;
}
