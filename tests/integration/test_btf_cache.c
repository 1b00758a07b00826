// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel type cache on the real kernel: the file greeterd writes makes
 * libbpf relocate every program of the object (both attach flavours)
 * exactly as the kernel's full BTF does, without reading the full BTF.
 * Needs root (loads programs) and /sys/kernel/btf/vmlinux.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel.h"

#define SKIP 77

static int failures;
static bool read_kernel_btf;

#define CHECK(cond, ...)                                   \
	do {                                               \
		if (!(cond)) {                             \
			fprintf(stderr, "FAIL: " __VA_ARGS__); \
			fputc('\n', stderr);               \
			failures++;                        \
		}                                          \
	} while (0)

__attribute__((format(printf, 2, 0))) static int on_libbpf(enum libbpf_print_level level,
							   const char *fmt, va_list args)
{
	char line[1024];

	(void)level;
	vsnprintf(line, sizeof(line), fmt, args);
	/* libbpf 1.1 says "loading kernel BTF '...'", 1.5 "loaded kernel BTF from '...'". */
	if (strstr(line, "kernel BTF") && strstr(line, "'/sys/kernel/btf/vmlinux'"))
		read_kernel_btf = true;
	return 0;
}

/* The object with every program loaded (not attached), relocated against btf_path. */
static struct bpf_object *load_all(const char *btf_path)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = btf_path);
	size_t size;
	const void *elf = pins_object_elf(&size);
	struct bpf_object *obj = bpf_object__open_mem(elf, size, &opts);
	struct bpf_program *prog;
	struct bpf_map *map;
	int err;

	if (!obj)
		return NULL;
	bpf_object__for_each_program (prog, obj)
		bpf_program__set_autoload(prog, true);
	/* The ring's size does not matter here. */
	bpf_object__for_each_map (map, obj)
		if (bpf_map__type(map) == BPF_MAP_TYPE_RINGBUF)
			bpf_map__set_max_entries(map, 4096);
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "loading with %s failed: %s\n", btf_path ? btf_path : "kernel BTF",
			strerror(-err));
		bpf_object__close(obj);
		return NULL;
	}
	return obj;
}

static bool is_ld_imm64_pseudo(const struct bpf_insn *insn)
{
	return insn->code == (BPF_LD | BPF_IMM | BPF_DW) && insn->src_reg != 0;
}

/* Same instructions, but for map references (fds differ between two loads). */
static int compare_programs(struct bpf_object *a, struct bpf_object *b)
{
	struct bpf_program *pa;
	int compared = 0;

	bpf_object__for_each_program (pa, a) {
		const char *name = bpf_program__name(pa);
		struct bpf_program *pb = bpf_object__find_program_by_name(b, name);
		const struct bpf_insn *ia = bpf_program__insns(pa), *ib;
		size_t n = bpf_program__insn_cnt(pa);

		CHECK(pb, "program %s missing", name);
		if (!pb)
			continue;
		ib = bpf_program__insns(pb);
		CHECK(n == bpf_program__insn_cnt(pb), "%s: %zu against %zu instructions", name, n,
		      bpf_program__insn_cnt(pb));
		for (size_t i = 0; n == bpf_program__insn_cnt(pb) && i < n; i++) {
			bool pseudo = is_ld_imm64_pseudo(&ia[i]);

			if (pseudo && i + 1 < n) {
				CHECK(ia[i].code == ib[i].code && ia[i].src_reg == ib[i].src_reg &&
					      ia[i].dst_reg == ib[i].dst_reg,
				      "%s: instruction %zu differs", name, i);
				i++; /* its second half holds the rest of the address */
				continue;
			}
			CHECK(memcmp(&ia[i], &ib[i], sizeof(ia[i])) == 0,
			      "%s: instruction %zu differs: off %d/%d imm %d/%d", name, i, ia[i].off,
			      ib[i].off, ia[i].imm, ib[i].imm);
		}
		compared++;
	}
	return compared;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

int main(void)
{
	char dir[] = "/tmp/greeter-btf-cache-XXXXXX";
	char path[PATH_MAX], again[PATH_MAX], stale[PATH_MAX + 64], other[PATH_MAX + 64];
	char err[512] = "";
	struct bpf_object *full, *cached;
	struct stat st, vmlinux;
	size_t elf_size;
	const void *elf = pins_object_elf(&elf_size);
	int r, n;

	if (geteuid() != 0) {
		printf("SKIP: loading BPF programs needs root\n");
		return SKIP;
	}
	if (stat("/sys/kernel/btf/vmlinux", &vmlinux) < 0) {
		printf("SKIP: the kernel has no BTF (/sys/kernel/btf/vmlinux)\n");
		return SKIP;
	}
	libbpf_set_print(on_libbpf);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}

	r = btf_cache_path(dir, pins_build_id(), path, sizeof(path));
	if (r == -ENOENT) {
		printf("SKIP: the kernel has no build ID: greeterd keeps no type cache\n");
		return SKIP;
	}
	CHECK(r == 0, "btf_cache_path: %s", strerror(-r));
	CHECK(strncmp(path, dir, strlen(dir)) == 0, "%s is not in %s", path, dir);
	r = btf_cache_path(dir, pins_build_id(), again, sizeof(again));
	CHECK(r == 0 && strcmp(path, again) == 0, "the key is not stable: %s, %s", path, again);
	r = btf_cache_path(dir, pins_build_id() ^ 1, again, sizeof(again));
	CHECK(r == 0 && strcmp(path, again) != 0, "another BPF object gets the same file");

	/* Another kernel's file goes; what is not a cache file stays. */
	snprintf(stale, sizeof(stale), "%s/vmlinux-0123456789abcdef.btf", dir);
	snprintf(other, sizeof(other), "%s/notes.txt", dir);
	fclose(fopen(stale, "w"));
	fclose(fopen(other, "w"));
	r = btf_cache_write(dir, path, elf, elf_size, err, sizeof(err));
	CHECK(r == 0, "btf_cache_write: %s", err);
	CHECK(stat(path, &st) == 0, "%s was not written", path);
	CHECK(!exists(stale), "the stale cache file was not removed");
	CHECK(exists(other), "a file that is no cache file was removed");
	printf("cache file: %lld bytes, the kernel's BTF: %lld bytes\n", (long long)st.st_size,
	       (long long)vmlinux.st_size);
	CHECK(st.st_size > 0 && st.st_size * 20 < vmlinux.st_size,
	      "the cache file is not small: %lld bytes", (long long)st.st_size);

	read_kernel_btf = false;
	full = load_all(NULL);
	CHECK(full && read_kernel_btf, "loading with the kernel's BTF");
	read_kernel_btf = false;
	cached = load_all(path);
	CHECK(cached, "loading with the cache file failed");
	CHECK(!read_kernel_btf, "libbpf read the kernel's full BTF despite the cache file");
	if (full && cached) {
		struct bpf_program *prog;
		int total = 0;

		bpf_object__for_each_program (prog, full)
			total++;
		n = compare_programs(full, cached);
		printf("%d of %d programs compared\n", n, total);
		/* sched_exec and both flavours' execve{,at} entry and exit programs */
		CHECK(n == total && total >= 9, "only %d of %d programs compared", n, total);
	}
	bpf_object__close(full);
	bpf_object__close(cached);

	unlink(path);
	unlink(other);
	rmdir(dir);
	printf("%s\n", failures ? "FAILED" : "OK");
	return failures ? 1 : 0;
}
