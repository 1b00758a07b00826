/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the files of the pins share; others use kernel.h. One job a file:
 *   pin_inventory.c  the names greeter pins, what an earlier greeterd left,
 *                    and objects under those names that are not greeter's
 *   pin_reuse.c      whether what was left is kept, as a whole or map by map
 *   pin_carry.c      what goes over from old maps into new ones
 *   pins.c           load, attach, stage, commit: the life cycle
 *   pin_readers.c    what greeterd reads while it runs: the start's outcome, the maps
 *   pin_processes.c  the process table: how full, and a process's chain
 *   process_seed.c   a new process table gets the processes running now
 *   pin_remove.c     removing the pins (--remove-pins)
 */
#ifndef GREETER_PINS_INTERNAL_H
#define GREETER_PINS_INTERNAL_H

#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <unistd.h>

#include "pin_stage.h"
#include "kernel.h"

struct bpf_map;

/*
 * Every map greeter pins, named as in the BPF object (skel->maps.name) and
 * pinned under that name; in the order they are staged: meta last, as it
 * marks a pin set complete.
 */
#define PIN_MAPS(X)                                                                                \
	X(CONFIG, config)                                                                          \
	X(EVENTS, events)                                                                          \
	X(STATS, stats)                                                                            \
	X(SEQUENCE, sequence)                                                                      \
	X(SETTINGS, settings)                                                                      \
	X(PENDING, pending)                                                                        \
	X(REPORTED, reported)                                                                      \
	X(PROCESSES, processes)                                                                    \
	X(META, meta)

enum pin_map {
#define PIN_MAP_INDEX(id, name) MAP_##id,
	PIN_MAPS(PIN_MAP_INDEX)
#undef PIN_MAP_INDEX
	MAP_COUNT,
};

/* The attach modes a program is loaded in. */
#define PIN_TP (1u << GREETER_ATTACH_TRACEPOINT)
#define PIN_KP (1u << GREETER_ATTACH_KPROBE)

/*
 * Every program greeter pins (prog_<name>, its link link_<name>), named as in
 * the BPF object (skel->progs.name), with the modes that load it; each
 * mode's in the order GetStatus lists them.
 */
#define PIN_PROGS(X)                                                                               \
	X(sched_exec, PIN_TP | PIN_KP)                                                             \
	X(proc_exit, PIN_TP | PIN_KP)                                                              \
	X(tp_execve, PIN_TP)                                                                       \
	X(tp_execveat, PIN_TP)                                                                     \
	X(tp_execve_ret, PIN_TP)                                                                   \
	X(tp_execveat_ret, PIN_TP)                                                                 \
	X(kp_execve, PIN_KP)                                                                       \
	X(kp_execveat, PIN_KP)                                                                     \
	X(kp_execve_ret, PIN_KP)                                                                   \
	X(kp_execveat_ret, PIN_KP)

/* Every program either mode pins; the programs one mode attaches. */
#define PIN_PROG_ONE(name, modes) +1
enum {
	PROG_COUNT = 0 PIN_PROGS(PIN_PROG_ONE)
};
#undef PIN_PROG_ONE
#define MODE_PROG_COUNT KERNEL_STATUS_PROGS

extern const char *const pin_map_names[MAP_COUNT];
extern const char *const pin_prog_names[PROG_COUNT];

/* The programs mode attaches, as indices into pin_prog_names. */
void mode_progs(enum greeter_attach_mode mode, size_t out[MODE_PROG_COUNT]);

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
	int processes_fd;
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
	struct pins_prog progs[MODE_PROG_COUNT];
	size_t prog_count;
	/* A new set, pinned aside until the commit (pin_stage.h). */
	struct pin_stage stage;
	/* A reused set's settings, written at the commit. */
	struct greeter_settings settings;
	/* Why the kernel was refused (kernel_probe.h), or "". */
	char refusal[1024];
	bool dir_created; /* by this start: removed again if it fails */
	/* The new programs wait (GREETER_SETTING_STANDBY) while the old ones are attached. */
	bool standby;
	bool committed;
};

/* What an earlier greeterd left in the pin directory. */
struct old_pins {
	bool any;
	bool have_meta;
	struct greeter_meta meta;
	int map_fd[MAP_COUNT];
	int link_fd[PROG_COUNT];
	int prog_fd[PROG_COUNT];
};

static inline void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* pin_inventory.c */
void pin_path(char *out, size_t size, const char *dir, const char *prefix, const char *name);
/* The id of a map, of a program (0 when unknown); of a link and of its program. */
__u32 pin_map_id(int fd);
__u32 pin_prog_id(int fd);
int pin_link_ids(int fd, __u32 *id, __u32 *prog);
/* Refuse (-EEXIST, logged) a pin directory where something foreign holds our names. */
int pins_check_foreign(const char *dir, bool for_removal);
void old_pins_inspect(const char *dir, struct old_pins *o);
void old_pins_close(struct old_pins *o);

/* pin_reuse.c */
bool pins_reusable(const struct old_pins *o, const struct pins_options *opt);
/* Why the pinned set cannot be reused, for the log. */
const char *pins_replace_reason(const struct old_pins *o, const struct pins_options *opt);
/* Take over everything pinned: programs and links stay attached as they are. */
void pins_adopt(struct pins *p, struct old_pins *o, const struct pins_options *opt);
/* Whether a replaced set's map i is kept: then the new object's map is set to use it. */
bool pins_reuse_map(const struct old_pins *o, enum pin_map i, struct bpf_map *map);

/* process_seed.c: the processes /proc lists, into a new table (the count into stats). */
void process_seed(int table_fd, int stats_fd);

/* pin_carry.c */
/* A new sequence map at fd goes on numbering from the old one, in the same stream. */
int carry_sequence(int fd, const struct old_pins *o, const bool *reused);
/* Fill the new config and settings maps from their predecessors or the options. */
int carry_maps(struct pins *p, int config_fd, int settings_fd, const struct old_pins *o,
	       const struct pins_options *opt, const bool *reused);
/* Where a replaced ring was read up to; keep it while it holds events to drain. */
void carry_old_ring(struct pins *p, struct old_pins *o, const bool *reused);
/* The settings asked for now, into a kept map, with the read position it holds. */
int carry_settings(int fd, const struct greeter_settings *settings);
/* Set or clear GREETER_SETTING_STANDBY in the settings map at fd, keeping the rest. */
int settings_standby(int fd, bool on);
/* Whether an earlier set's programs are attached (their links pinned). */
bool old_links_attached(const struct old_pins *o);

#endif
