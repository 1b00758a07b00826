/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The event stream: drains the ring buffer (on a wakeup or, at the latest,
 * on a timer), puts events in sequence order and hands each to the
 * registered sinks. The ring is the replay window: events read stay in it,
 * indexed, until they fall out of the retention (a number of events, and
 * half the ring), and are released to the kernel only then.
 */
#ifndef GREETER_EVENTS_H
#define GREETER_EVENTS_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "event_record.h"
#include "greeter.h"

struct events;

typedef void (*events_sink_fn)(const struct greeter_event *e, void *userdata);

struct events_options {
	uint64_t max_delay_usec; /* drain at least this often */
	size_t window; /* events retained for replay, at most */
	uint64_t read_pos; /* where the last greeterd stopped handing events on */
	uint64_t handed_until; /* and up to where it may have handed some on */
	/*
	 * Keeps, for the next greeterd and the wakeups, the ring position
	 * events were handed on up to, and up to where they may be (until).
	 */
	void (*store_pos)(uint64_t pos, uint64_t until, void *userdata);
	void *userdata;
};

struct events_counters {
	uint64_t received; /* events read from the ring buffer */
	uint64_t malformed; /* records of the wrong size (never expected) */
	/* Handed on again: a killed greeterd may have handed them on already. */
	uint64_t repeated;
	uint64_t late; /* dropped: their number had been given up on, or came twice */
	uint64_t last_seq; /* highest sequence number seen */
	bool have_seq;
};

int events_start(struct events **out, sd_event *loop, int ring_fd, const struct events_options *o);
void events_free(struct events *ev);

/*
 * Deliver what a replaced ring buffer holds past read_pos, and keep what it
 * retained before for replay; its records are of ABI abi. Closes nothing.
 */
int events_drain_fd(struct events *ev, int ring_fd, uint64_t read_pos, unsigned abi);

/* Read everything pending now (e.g. before shutting down). */
int events_drain(struct events *ev);

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
 * The window as a stream: each event retained gets a position, counting up
 * from 0. Readers (watchers) keep a position of their own instead of a copy
 * of the events, so a slow reader costs no memory and holds up nobody; it
 * loses what left the retention by the time it catches up.
 */
uint64_t events_window_start(const struct events *ev); /* oldest position held */
uint64_t events_window_end(const struct events *ev); /* next position to be written */
/*
 * The event at pos, read again from the ring (once for readers asking in
 * turn), or NULL when it has left the window or not yet arrived. Valid
 * until the next call.
 */
const struct greeter_event *events_window_at(struct events *ev, uint64_t pos);
/* The UID of the event at pos, without reading it: false when not in the window. */
bool events_window_uid(const struct events *ev, uint64_t pos, uint32_t *uid);
/* In a sink: the window position of the event being handed on. */
uint64_t events_dispatch_pos(const struct events *ev);
/* The first position whose event has seq > after_seq (window_end if none). */
uint64_t events_window_find_after(const struct events *ev, uint64_t after_seq);

#endif
