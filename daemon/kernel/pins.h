/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel objects and their pins under the pin directory: load and attach
 * on a first start, reuse what an earlier greeterd left when it is
 * compatible, replace (carrying messages and the sequence over) when not.
 * A new set is pinned aside and only put in place by pins_commit(), once
 * the start has succeeded: a start that fails leaves the pins as they were.
 */
#ifndef GREETER_PINS_H
#define GREETER_PINS_H

#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "greeter.h"
#include "entries.h"
#include "kernel_status.h"
#include "pin_stage.h"

#define PINS_PROG_COUNT KERNEL_STATUS_PROGS

struct pins_options {
	const char *pin_dir;
	enum greeter_attach_mode attach; /* requested; AUTO picks */
	__u32 ring_size; /* bytes, a power of two */
	struct greeter_settings settings;
	/* Messages for a config map that has to be created and has no predecessor. */
	const struct greeter_entries *initial;
	/* Kernel BTF cut down for the object (btf_cache.h), or NULL for the full one. */
	const char *btf_path;
};

enum pins_outcome {
	PINS_CREATED, /* nothing was pinned */
	PINS_REUSED, /* everything pinned was compatible and kept */
	PINS_REPLACED, /* programs (and incompatible maps) replaced */
};

struct pins_prog {
	const char *name;
	__u32 prog_id;
	__u32 link_id;
};

struct pins {
	char dir[PATH_MAX];
	int dir_fd; /* holds the lock that keeps a second greeterd out */
	int config_fd;
	int events_fd;
	int stats_fd;
	int sequence_fd;
	int settings_fd;
	int meta_fd;
	/* A replaced ring buffer still to be drained, or -1; where it was read up to. */
	int old_events_fd;
	__u64 old_read_pos;
	__u32 old_events_abi; /* the layout of its records */
	enum greeter_attach_mode mode;
	char attach_reason[128];
	enum pins_outcome outcome;
	/* Whether the config map's messages came from earlier pins (not the state file). */
	bool messages_from_pins;
	/* Programs were loaded with btf_path; or it was given and failed to load. */
	bool btf_from_cache;
	bool btf_cache_failed;
	__u32 ring_size;
	__u32 config_map_id;
	__u32 events_map_id;
	__u32 stats_map_id;
	struct pins_prog progs[PINS_PROG_COUNT];
	size_t prog_count;
	/* A new set, pinned aside until the commit (pin_stage.h). */
	struct pin_stage stage;
	/* A reused set's settings, written at the commit. */
	struct greeter_settings settings;
	/* Why the kernel was refused (kernel_probe.h), or "". */
	char refusal[1024];
	bool dir_created; /* by this start: removed again if it fails */
	bool committed;
};

/* Reuse or make the kernel objects; a new set stays aside until pins_commit(). */
int pins_open(struct pins *p, const struct pins_options *o);
/* The start succeeded: put a new set in place, or write a reused set's settings. */
int pins_commit(struct pins *p);
/* Close the fds; before a commit, also remove what pins_open() made. */
void pins_close(struct pins *p);

/* What the kernel side looks like now (what cannot be read stays 0). */
void pins_status(const struct pins *p, struct kernel_status *out);

/* Sum the per-CPU counters into out[GREETER_STAT_MAX]. */
int pins_read_stats(const struct pins *p, __u64 *out);

/*
 * Bytes of the ring buffer the kernel cannot write over: what it produced
 * past the position greeterd released (events retained and not yet read).
 */
int pins_ring_used(const struct pins *p, __u64 *used);

/* How many events the kernel has numbered: the last sequence number given. */
int pins_read_last_seq(const struct pins *p, __u64 *next);
/* The id of the event stream: made when numbering started at 1. */
int pins_read_stream_id(const struct pins *p, __u64 *id);
/* Where the last greeterd stopped reading the ring, and keeping it for the next. */
/*
 * Where the last greeterd had handed events on up to (pos), and up to where
 * it may have handed some on (until >= pos: the batch it was at).
 */
int pins_read_pos(const struct pins *p, __u64 *pos, __u64 *until);
int pins_store_read_pos(struct pins *p, __u64 pos, __u64 until);

/* Detach and remove everything greeter pinned in pin_dir; foreign files stay. */
int pins_remove(const char *pin_dir);

const char *attach_mode_name(enum greeter_attach_mode mode);
int attach_mode_parse(const char *s, enum greeter_attach_mode *mode);

/* Identifies this build's BPF object (a hash of it). */
__u64 pins_build_id(void);

/* This build's BPF object, the ELF file the skeleton embeds. */
const void *pins_object_elf(size_t *size);

#endif
