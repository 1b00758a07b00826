/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The clients of io.greeter.WatchEvents: each event of the window to each
 * watcher that may see it and asked for it, as a varlink reply.
 *
 * Every event is decoded once and written as JSON once, however many
 * watchers take it. A watcher that has seen everything ("live") is found
 * by the UID it watches: a new event costs nothing to the watchers of
 * other users. A watcher behind (its socket full, its UID at its bound of
 * unread replies, a replay under way) keeps a window position of its own
 * and goes on when its socket drains, WATCHERS_SLICE positions per turn of
 * the loop: its events wait in the ring for it, and those that leave the
 * window before it catches up are reported to it as dropped.
 */
#ifndef GREETER_WATCHERS_H
#define GREETER_WATCHERS_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "eventlog.h"
#include "greeter.h"
#include "varlink_server.h"

/* A watcher's socket may hold this much; the rest waits in the ring for it. */
#define WATCHERS_OUTPUT_HIGH (64 * 1024)
/* Window positions one watcher looks at per turn of the loop (a long replay). */
#define WATCHERS_SLICE 1024

/* What a watcher may and asked to see. */
struct watch_filter {
	uint32_t peer_uid; /* the caller: without all_users, only its own events */
	bool all_users; /* the caller is an admin */
	bool has_uid;
	uint32_t uid;
	bool has_comm;
	char comm[GREETER_COMM_SIZE];
	bool has_unit;
	char unit[GREETER_UNIT_SIZE];
	bool include_failed;
	bool include_exits;
};

struct watchers;

/* Takes the events of ev as its sink; ev must outlive the set. */
int watchers_new(struct watchers **out, sd_event *loop, struct events *ev);
/* Ends nothing: the server closes the calls (each watcher's on_close frees it). */
void watchers_free(struct watchers *ws);

/*
 * Stream the window from cursor from on to call c (kept open). The first
 * reply is the caller's. Returns 0 or -ENOMEM (nothing sent).
 */
int watchers_add(struct watchers *ws, struct varlink_call *c, const struct watch_filter *f,
		 struct events_cursor from);

/*
 * Before shutting down: each watcher gets what fits in its socket now, as
 * far as time allows (until CLOCK_MONOTONIC deadline_usec).
 */
void watchers_pump_all(struct watchers *ws, uint64_t deadline_usec);

size_t watchers_count(const struct watchers *ws);
uint64_t watchers_delivered(const struct watchers *ws); /* events sent */
/* Events that left the window before a watcher was sent them, counted as they leave. */
uint64_t watchers_dropped(const struct watchers *ws);

#endif
