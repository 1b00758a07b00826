/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel filesystems greeterd needs: bpffs for pins, tracefs for tracepoints. */
#ifndef GREETER_KERNEL_FS_H
#define GREETER_KERNEL_FS_H

#include <stdbool.h>

/*
 * Make sure pin_dir lies on a bpf filesystem and exists (mode 0700). Mounts
 * bpffs on /sys/fs/bpf when pin_dir is below it and nothing is mounted
 * there. *created says whether this call made the directory (a start that
 * fails removes it again). Returns 0, or a negative errno after logging
 * what to run.
 */
int kernel_fs_prepare_pin_dir(const char *pin_dir, bool *created);

/* Make sure tracefs is reachable for tracepoint attach; mounts it when it may. */
int kernel_fs_prepare_tracefs(void);

/* Whether the kernel can attach kprobes (the perf kprobe PMU exists). */
bool kernel_has_kprobes(void);

#endif
