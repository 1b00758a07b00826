/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A reader's place in the event log's window (events.h): a watcher that
 * is behind, or replaying. It holds a position, not copies of events, so a
 * slow reader costs no memory and holds up nobody. Events of UIDs the
 * reader does not want are passed over without being decoded; those it
 * reads are decoded once for all readers (events_window_at()).
 */
#ifndef GREETER_EVENTS_CURSOR_H
#define GREETER_EVENTS_CURSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "events.h"

struct events_cursor {
	uint64_t pos; /* the next window position to read */
	/* Events passed whose record could not be read again: lost, not skipped silently. */
	uint64_t unreadable;
};

/* A cursor at the window's end (new events only), or after seq (a resume). */
struct events_cursor events_cursor_at_end(const struct events *ev);
struct events_cursor events_cursor_after_seq(const struct events *ev, uint64_t seq);

/*
 * The events lost to the cursor since it was last asked: those that left
 * the window before it reached them (the cursor moves to the oldest event
 * held), and those it passed whose record could not be read. 0 when none.
 */
uint64_t events_cursor_skip_lost(const struct events *ev, struct events_cursor *cur);

/* Which UIDs' events a reader wants (arg: the reader's). */
typedef bool (*events_uid_filter_fn)(uint32_t uid, const void *arg);

/*
 * The next event from the cursor on whose UID want() takes, looking at
 * positions before limit at most; NULL when there is none before limit (or
 * the window's end). *pos: its position. The event is valid until the next
 * read of the window.
 */
const struct greeter_event *events_cursor_next(struct events *ev, struct events_cursor *cur,
					       uint64_t limit, events_uid_filter_fn want,
					       const void *arg, uint64_t *pos);

/* Whether the cursor has read everything the window holds. */
bool events_cursor_done(const struct events *ev, const struct events_cursor *cur);

#endif
