/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What greeter's BPF object needs of the kernel, probed before anything is
 * loaded or pinned, the way libbpf probes: tiny programs and maps, loaded
 * and closed at once. The needs are read from the object itself: its
 * program and map types, the helpers and atomic instructions its programs
 * use; and the BPF links that keep programs attached once pinned.
 */
#ifndef GREETER_KERNEL_PROBE_H
#define GREETER_KERNEL_PROBE_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "kernel.h"

enum kernel_lack_kind {
	KERNEL_LACKS_PROG_TYPE,
	KERNEL_LACKS_MAP_TYPE,
	KERNEL_LACKS_HELPER,
	KERNEL_LACKS_ATOMIC,
	KERNEL_LACKS_PERF_LINK,
};

struct kernel_lack {
	enum kernel_lack_kind kind;
	__u32 prog_type; /* PROG_TYPE; HELPER: the type of the programs calling it */
	__u32 id; /* MAP_TYPE: the map type; HELPER: its id; ATOMIC: the operation (imm) */
};

#define KERNEL_PROBE_MAX_LACKS 32

struct kernel_lacks {
	bool kprobes; /* the kprobe programs were probed (they attach by BPF links too) */
	size_t count;
	struct kernel_lack items[KERNEL_PROBE_MAX_LACKS];
};

/*
 * Probe for what the object's programs need: the tracepoint ones, and the
 * kprobe ones too when kprobes. Returns 0 when the kernel has it all, 1
 * when it lacks something (listed in lacks), or a negative errno when it
 * could not be probed (-EPERM: not permitted to load programs).
 */
int kernel_probe(const void *elf, size_t elf_size, bool kprobes, struct kernel_lacks *lacks);

/* The refusal, one sentence: "kernel RELEASE lacks ...; greeter needs ...". */
void kernel_probe_refusal(const struct kernel_lacks *lacks, const char *release, char *out,
			  size_t size);

#endif
