/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An exec event as greeterd's sinks see it, and its decoding from a ring
 * record of either layout: the fixed struct greeter_event_v2 of ABI 1 and 2
 * (records left in an old ring during migration), the variable-length
 * struct greeter_record from ABI 3. A record is hostile input: every length
 * is checked against the record's size.
 */
#ifndef GREETER_EVENT_RECORD_H
#define GREETER_EVENT_RECORD_H

#include <linux/types.h>
#include <stddef.h>

#include "greeter.h"

struct greeter_event {
	__u64 seq; /* 1, 2, ...: grows by one per event, across daemon restarts */
	__u64 boot_ns; /* CLOCK_BOOTTIME of the exec */
	__u64 cgroup_id; /* 0 in records before ABI 3 */
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__s32 error; /* 0, or -errno of a failed attempt */
	/*
	 * enum greeter_event_flags: GREETER_EVENT_ARGS when args were read,
	 * GREETER_EVENT_ARGS_TRUNCATED when cut (in the kernel, by bytes, or
	 * here, by count).
	 */
	__u16 flags;
	__u8 source; /* enum greeter_source */
	/* Each NUL-terminated; may hold anything else. */
	char comm[GREETER_COMM_SIZE];
	char filename[GREETER_FILENAME_SIZE];
	char message[GREETER_MESSAGE_SIZE];
	char unit[GREETER_UNIT_SIZE]; /* "" at the root, or in records before ABI 3 */
	/* args_count arguments, each NUL-terminated, back to back: args_len bytes. */
	__u16 args_count;
	__u16 args_len;
	char args[GREETER_ARGS_SIZE + 1];
};

/*
 * Decode the record of size bytes at data, written by a BPF program of ABI
 * abi. Returns 0, or -EBADMSG when it is too short, or its lengths run past
 * its end (e is then undefined); -EPROTO for an ABI it does not know.
 */
int event_record_decode(const void *data, size_t size, unsigned abi, struct greeter_event *e);

/* "uid", "default" or "builtin": where an event's message came from. */
const char *event_source_name(unsigned source);

/* The next argument after arg (NULL: the first), or NULL after the last. */
const char *event_next_arg(const struct greeter_event *e, const char *arg);

#endif
