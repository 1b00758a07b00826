/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The event stream: drains the ring buffer (on a wakeup or, at the latest,
 * on a timer), puts events in sequence order, keeps a bounded window of
 * recent events for replay, and hands each event to the registered sinks.
 */
#ifndef GREETER_EVENTS_H
#define GREETER_EVENTS_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "greeter.h"

struct events;

typedef void (*events_sink_fn)(const struct greeter_event *e, void *userdata);

struct events_options {
	uint64_t max_delay_usec; /* drain at least this often */
	size_t window; /* events kept for replay */
	/* Keeps the ring position read up to, for the next greeterd and the wakeups. */
	void (*store_pos)(uint64_t pos, void *userdata);
	void *userdata;
};

struct events_counters {
	uint64_t received; /* events read from the ring buffer */
	uint64_t malformed; /* records of the wrong size (never expected) */
	uint64_t last_seq; /* highest sequence number seen */
	bool have_seq;
};

int events_start(struct events **out, sd_event *loop, int ring_fd, const struct events_options *o);
void events_free(struct events *ev);

/* Deliver what a replaced ring buffer still holds, once. Closes nothing. */
int events_drain_fd(struct events *ev, int ring_fd);

/* Read everything pending now (e.g. before shutting down). */
int events_drain(struct events *ev);

/*
 * Backpressure: before each event, should_pause() may ask to leave it and
 * the rest in the ring buffer (which holds seconds of events) until readers
 * catch up; events_drain() then returns early and is called again later (by
 * the timer, or by the reader that caught up).
 */
void events_set_pause(struct events *ev, bool (*should_pause)(void *userdata), void *userdata);

/*
 * Called after each batch of events was handed to the sinks, before the ring
 * buffer lets go of them: where queued output is written out.
 */
void events_set_batch_end(struct events *ev, void (*batch_end)(void *userdata), void *userdata);


/* At most 8 sinks; returns a handle >= 0 or -ENOSPC. */
int events_add_sink(struct events *ev, events_sink_fn fn, void *userdata);
void events_remove_sink(struct events *ev, int handle);

const struct events_counters *events_counters(const struct events *ev);

/*
 * The window as a stream: each event read gets a position, counting up from
 * 0. Readers (watchers) keep a position of their own instead of a copy of
 * the events, so a slow reader costs no memory; it loses what the window
 * has dropped by the time it catches up.
 */
uint64_t events_window_start(const struct events *ev); /* oldest position held */
uint64_t events_window_end(const struct events *ev); /* next position to be written */
/* The event at pos, or NULL when it has left the window or not yet arrived. */
const struct greeter_event *events_window_at(const struct events *ev, uint64_t pos);
/* The first position whose event has seq > after_seq (window_end if none). */
uint64_t events_window_find_after(const struct events *ev, uint64_t after_seq);

/* "uid", "default" or "builtin": where an event's message came from. */
const char *events_source_name(unsigned source);

/* One event as a line of text for --print-events; strings escaped. */
void events_format_line(const struct greeter_event *e, char *out, size_t size);

#endif
