/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The message store, greeterd's one door to it. greeterd keeps the
 * configured messages in memory (uid -> text), equal to the pinned config
 * map, which the kernel reads: both hold only what is durable. A change is
 * checked at once against what it will apply to (the durable state plus the
 * changes still being written), written to the change log with the changes
 * that came with it (group commit: one append and one fsync for all, in a
 * writer process of its own), and applied to the map and memory once it is
 * on disk; only then is its caller told. A failed write changes nothing.
 * Its other headers are its own.
 */
#ifndef GREETER_STORE_H
#define GREETER_STORE_H

#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "entries.h"
#include "greeter.h"

/* The files at start */

/* What store_load() found. */
struct store_load {
	/* Why changes must be refused ("" if they may be made): what to do. */
	char refusal[768];
	size_t replayed; /* records replayed from logs */
	bool found; /* a snapshot or a record was read: the files hold a history */
	bool compact_needed; /* a damaged log was moved aside: write the snapshot now */
	double usec; /* time taken */
};

/*
 * Read the state at start: make the state directory if it is missing and
 * lock it (*lock_fd: a second greeterd on it would compact with its own,
 * older copy of the messages), then read the snapshot and the change log
 * into entries. A damaged file is moved aside and is not fatal; what could
 * not be read (or a directory that cannot be made) is named in
 * load->refusal, logged, and every change is then refused. Fails only
 * when the directory cannot be locked (*lock_fd stays -1).
 */
int store_load(const char *state_dir, struct greeter_entries *entries, struct store_load *load,
	       int *lock_fd);

/* The store */

/* A change's outcome: r == 0 once durable and applied, else err says why. */
typedef void (*messages_done_fn)(void *userdata, int r, const char *err);

/* The store: opaque, used through the functions below. */
struct messages;

/*
 * A store over the config map config_fd and the files in state_dir, whose
 * lock lock_fd holds (or -1). With config_fd -1 it keeps memory and files
 * only (the API's tests, without a kernel). Empty until messages_start()
 * or messages_adopt(); changes need messages_open_log().
 */
int messages_new(struct messages **out, int config_fd, const char *state_dir, int lock_fd);
/* Close the change log and free everything (NULL: nothing). */
void messages_free(struct messages *m);

/* fn(userdata) after each batch of changes is on disk and applied. */
void messages_on_changed(struct messages *m, void (*fn)(void *userdata), void *userdata);

/* Refuse every change from now on, with why (what to do). */
void messages_refuse(struct messages *m, const char *why);
/* Why changes are refused, or "" when they are not. */
const char *messages_refusal(const struct messages *m);

/* Take state as the durable state, as it is; state is emptied. */
void messages_adopt(struct messages *m, struct greeter_entries *state);

/*
 * Take the messages at start: files, what store_load() read (emptied),
 * and with map_kept the pinned map's. The files win when they were read
 * whole and hold a history: a map that differs is brought in line (a
 * multi-entry change was being applied when greeterd was killed). Else the
 * map wins and *compact says to rewrite the files from it. *compact is
 * also set when load asks for it. Returns 0 or a negative errno (the map
 * could not be read).
 */
int messages_start(struct messages *m, struct greeter_entries *files,
		   const struct store_load *load, bool map_kept, bool *compact);

/*
 * Open the change log (unless refused). With compact, write the snapshot
 * from memory first (the files differ from the map, or a damaged log was
 * moved aside). Failing leaves changes refused, with the reason.
 */
int messages_open_log(struct messages *m, sd_event *loop, bool compact);

/*
 * Queue a change: 0 and done() later, from the loop (never from within
 * this call), or a negative errno now with err filled: -EROFS refused
 * (messages_refuse), -ENOSPC the map is full, -ENOENT (remove) no message.
 * uid GREETER_DEFAULT_UID is the default message. The text must be valid.
 */
int messages_set(struct messages *m, uint32_t uid, const char *text, size_t len,
		 messages_done_fn done, void *userdata, char *err, size_t err_size);
int messages_remove(struct messages *m, uint32_t uid, messages_done_fn done, void *userdata,
		    char *err, size_t err_size);
/* What an import does, measured against the messages with the pending changes applied. */
struct messages_import_counts {
	size_t added; /* listed, and no message before */
	size_t updated; /* listed, and another message before */
	size_t unchanged; /* listed, and the same message already */
	size_t removed; /* not listed, and removed (replace) */
};

/*
 * All of list (valid, sorted, no duplicates; taken) in one record: merged, or
 * with replace the whole set; *n says what it does. Returns as messages_set(),
 * or 1 when it would change nothing and no change is pending: nothing is
 * written and done() is not called.
 */
int messages_import(struct messages *m, struct greeter_entries *list, bool replace,
		    struct messages_import_counts *n, messages_done_fn done, void *userdata,
		    char *err, size_t err_size);

/* The caller of a pending change went away: it is still written, but not told. */
void messages_forget(struct messages *m, void *userdata);

/*
 * At shutdown: write out and apply the pending changes until deadline_usec
 * (CLOCK_MONOTONIC), done() running for each. What is not on disk by then
 * (a stalled disk) is not acknowledged: done() gets -ETIMEDOUT.
 */
void messages_flush(struct messages *m, uint64_t deadline_usec);

/* The message an exec by uid would get, and where it comes from. */
int messages_get(struct messages *m, uint32_t uid, char out[GREETER_MESSAGE_SIZE],
		 enum greeter_source *source);

/* All configured messages, sorted by UID (the default last). */
const struct greeter_entries *messages_all(const struct messages *m);

size_t messages_count(const struct messages *m);
/* Counts up with every batch of changes applied: what was read of the store is still current while it stays. */
uint64_t messages_version(const struct messages *m);

struct messages_log_stats {
	bool open; /* the change log is open: the rest is known */
	uint64_t size; /* bytes of the change log */
	uint64_t compactions, compactions_failed;
};
void messages_log_stats(const struct messages *m, struct messages_log_stats *out);

#endif
