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

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "greeter.h"
#include "entries.h"
#include "kernel_status.h"

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

/* The kernel objects greeterd holds: opaque, used through the functions below. */
struct pins;

/*
 * Reuse or make the kernel objects; a new set stays aside until
 * pins_commit(). *out is set on failure too (NULL only without memory):
 * pins_refusal() may say why; pins_free() it either way.
 */
int pins_open(struct pins **out, const struct pins_options *o);
/* The start succeeded: put a new set in place, or write a reused set's settings. */
int pins_commit(struct pins *p);
/* Close the fds and free; before a commit, also remove what pins_open() made. */
void pins_free(struct pins *p);

/* Why the kernel was refused (kernel_probe.h), or "". */
const char *pins_refusal(const struct pins *p);
enum greeter_attach_mode pins_mode(const struct pins *p);
/* How the programs were attached, in words ("tracepoint: ..."). */
const char *pins_attach_reason(const struct pins *p);
/* The config map (the store writes it) and the ring buffer (the event log reads it). */
int pins_config_fd(const struct pins *p);
int pins_events_fd(const struct pins *p);
/* The config map's messages came from earlier pins, not from the state files. */
bool pins_messages_kept(const struct pins *p);
/* The programs were loaded with options' btf_path; or it was given and failed. */
bool pins_btf_from_cache(const struct pins *p);
bool pins_btf_cache_failed(const struct pins *p);
/*
 * A replaced ring buffer still to be drained: its fd (or -1), where it was
 * read up to, and the layout (ABI) of its records.
 */
int pins_old_ring(const struct pins *p, __u64 *read_pos, unsigned *abi);

/* What the kernel side looks like now (what cannot be read stays 0). */
void pins_status(const struct pins *p, struct kernel_status *out);

/*
 * Where the event stream stands, and nothing else (one map lookup): the last
 * sequence number the kernel gave, and the stream's id, made when numbering
 * started at 1. Both 0 when the sequence map cannot be read.
 */
int pins_stream(const struct pins *p, __u64 *last_seq, __u64 *stream_id);

/* Sum the per-CPU counters into out[GREETER_STAT_MAX]. */
int pins_read_stats(const struct pins *p, __u64 *out);

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
