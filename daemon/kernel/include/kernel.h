/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel side, greeterd's one door to it: the BPF programs, maps and
 * links and their pins under the pin directory. Load and attach on a first
 * start, reuse what an earlier greeterd left when it is compatible, replace
 * (carrying messages and the sequence over) when not. A new set is pinned
 * aside and only put in place by pins_commit(), once the start has
 * succeeded: a start that fails leaves the pins as they were. Its other
 * headers are its own.
 */
#ifndef GREETER_KERNEL_H
#define GREETER_KERNEL_H

#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "entries.h"
#include "greeter.h"

/* The exit status of a greeterd that refuses a kernel (LSB: unimplemented feature). */
#define KERNEL_PROBE_EXIT_LACKING 3

/*
 * The kernel side as others may see it: a copy, read when asked
 * (pins_status()), for GetStatus; where the event stream stands is read
 * alone (pins_stream()). Nothing in it refers back to the kernel objects.
 */
#define KERNEL_STATUS_PROGS 6

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
	__u64 processes; /* in the process table now */
	__u64 processes_evicted; /* let go of for room: added, less removed and held */
};

/* A process of the process table: one step of a chain (pins_process_chain()). */
struct kernel_process {
	__u32 pid;
	__u32 uid;
	__u64 exec_ns; /* CLOCK_BOOTTIME of its exec (a seeded process: its start) */
	bool seeded; /* running before the table was made: no exec seen */
	char comm[GREETER_COMM_SIZE];
	char file[GREETER_FILENAME_SIZE];
	char unit[GREETER_UNIT_SIZE];
};

/* Steps of a chain at most. */
#define KERNEL_CHAIN_MAX 64

/* The pins */

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

/* Processes the process table holds now (a walk of its keys). */
__u64 pins_process_count(const struct pins *p);

/*
 * pid's process, its parent's exec, and so on up (each the exec its child
 * recorded, not a later one), into out[max]: the number of steps, or
 * -ESRCH when the table does not hold pid.
 */
int pins_process_chain(const struct pins *p, __u32 pid, struct kernel_process *out, size_t max);

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

/* Route libbpf's messages to greeterd's log (debug lines with --verbose). */
void libbpf_log_init(void);

/* Writing many messages into the config map: in batches, a few syscalls in all. */
/*
 * Set every entry's message in the map at fd (BPF_ANY). 16,384 messages one
 * by one are 16,384 syscalls; batches make a start after a reboot, or an
 * import, cheap. Falls back to one by one where the kernel has no batches.
 * Returns 0 or a negative errno (some entries may then be written).
 */
int config_map_write(int fd, const struct greeter_entries *entries);

/*
 * The cut-down kernel BTF kept on disk, one file per kernel and BPF object,
 * so that a cold start after a reboot need not parse the kernel's full BTF.
 */
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
