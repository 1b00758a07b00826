/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel side as others may see it: a copy, read when asked (pins.h
 * pins_status()), for GetStatus; where the event stream stands is read
 * alone (pins_stream()). Nothing in it refers back to the kernel objects.
 */
#ifndef GREETER_KERNEL_STATUS_H
#define GREETER_KERNEL_STATUS_H

#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "greeter.h"

#define KERNEL_STATUS_PROGS 5

struct kernel_status {
	const char *attach_mode; /* "tracepoint", "kprobe", ... */
	char attach_reason[128];
	char pin_dir[PATH_MAX];
	__u32 ring_size;
	bool has_ring_used;
	__u64 ring_used; /* bytes the kernel cannot write over */
	__u32 config_map_id, events_map_id, stats_map_id;
	struct {
		const char *name;
		__u32 prog_id, link_id;
	} progs[KERNEL_STATUS_PROGS];
	size_t prog_count;
	__u64 stats[GREETER_STAT_MAX]; /* per-CPU counters, summed */
	__u64 stream_id; /* the event stream, made when numbering started */
	__u64 last_seq; /* the last sequence number the kernel gave */
};

#endif
