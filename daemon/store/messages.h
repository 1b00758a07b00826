/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The configured messages. greeterd keeps them in memory (uid -> text),
 * equal to the pinned config map, which the kernel reads: both hold only
 * what is durable. A change is checked at once against what it will apply
 * to (the durable state plus the changes still being written), written to
 * the change log with the changes that came with it (group commit: one
 * append and one fsync for all), and applied to the map and memory once it
 * is on disk; only then is its caller told. A failed write changes nothing.
 */
#ifndef GREETER_MESSAGES_H
#define GREETER_MESSAGES_H

#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "change_log.h"
#include "change_record.h"
#include "entries.h"
#include "greeter.h"

/* A change's outcome: r == 0 once durable and applied, else err says why. */
typedef void (*messages_done_fn)(void *userdata, int r, const char *err);

struct change;

struct change_batch {
	struct change *head, **tail;
	size_t count;
};

struct messages {
	int config_fd;
	char state_dir[PATH_MAX];
	struct greeter_entries state; /* durable; what the map holds */
	char refusal[768]; /* non-empty: every change is refused with this */
	struct change_log *log;
	struct change_batch queued, inflight;
	long pending_delta; /* messages the pending changes add (or remove) */
	uint64_t writes, batches; /* changes written, and the writes they took */
	void (*changed)(void *userdata); /* after a batch was applied */
	void *changed_userdata;
};

void messages_init(struct messages *m, int config_fd, const char *state_dir);

/* Refuse every change from now on, with why (what to do). */
void messages_refuse(struct messages *m, const char *why);

/* Take state (the files' or the map's) as the durable state; state is emptied. */
void messages_adopt(struct messages *m, struct greeter_entries *state);

/* Read the config map into memory (a warm start: the map is the truth). */
int messages_read_map(struct messages *m, struct greeter_entries *out);

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
/*
 * All of list (valid, sorted, no duplicates; taken) in one record: merged, or
 * with replace the whole set. *set and *removed: what it will do.
 */
int messages_import(struct messages *m, struct greeter_entries *list, bool replace, size_t *set,
		    size_t *removed, messages_done_fn done, void *userdata, char *err,
		    size_t err_size);

/* The caller of a pending change went away: it is still written, but not told. */
void messages_forget(struct messages *m, void *userdata);

/* Write out and apply every pending change (at shutdown); done() runs for each. */
void messages_flush(struct messages *m);

void messages_close(struct messages *m);

/* The message an exec by uid would get, and where it comes from. */
int messages_get(struct messages *m, uint32_t uid, char out[GREETER_MESSAGE_SIZE],
		 enum greeter_source *source);

/* All configured messages, sorted by UID (the default last). */
const struct greeter_entries *messages_all(const struct messages *m);

size_t messages_count(const struct messages *m);

#endif
