// SPDX-License-Identifier: LGPL-2.1-or-later
#include "events.h"
#include "escape.h"
#include "log.h"
#include "reorder.h"
#include "ring_reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SINKS 8
/* Events handed on between two releases of the ring's consumer position. */
#define BATCH_MAX 1024

struct sink {
	events_sink_fn fn;
	void *userdata;
};

struct events {
	sd_event *loop;
	struct ring_reader *ring;
	sd_event_source *io;
	sd_event_source *timer;
	uint64_t max_delay_usec;
	struct sink sinks[MAX_SINKS];
	struct ring_reader *reading; /* the ring being drained */
	struct reorder order;
	/* The replay window: a circular buffer in sequence order. */
	struct greeter_event *window;
	size_t window_cap;
	size_t window_head; /* index of the oldest */
	size_t window_len;
	uint64_t window_total; /* events ever pushed: the next position */
	struct events_counters counters;
	bool (*should_pause)(void *userdata);
	void *pause_userdata;
	bool may_pause; /* false while a replaced ring is emptied */
	bool paused;
	void (*batch_end)(void *userdata);
	void *batch_userdata;
	void (*store_pos)(uint64_t pos, void *userdata);
	void *store_userdata;
	uint64_t stored_pos;
};

static void window_push(struct events *ev, const struct greeter_event *e)
{
	size_t idx;

	if (ev->window_cap == 0) {
		ev->window_total++;
		return;
	}
	if (ev->window_len == ev->window_cap) {
		ev->window_head = (ev->window_head + 1) % ev->window_cap;
		ev->window_len--;
	}
	idx = (ev->window_head + ev->window_len) % ev->window_cap;
	ev->window[idx] = *e;
	ev->window_len++;
	ev->window_total++;
}

static void dispatch(const struct greeter_event *e, void *ctx)
{
	struct events *ev = ctx;

	window_push(ev, e);
	if (!ev->counters.have_seq || e->seq > ev->counters.last_seq)
		ev->counters.last_seq = e->seq;
	ev->counters.have_seq = true;
	for (size_t s = 0; s < MAX_SINKS; s++)
		if (ev->sinks[s].fn)
			ev->sinks[s].fn(e, ev->sinks[s].userdata);
}

static int on_record(void *ctx, const void *data, size_t size)
{
	struct events *ev = ctx;
	struct greeter_event e;

	/* Readers far behind: leave the rest in the ring buffer for now. */
	if (ev->may_pause && ev->should_pause && ev->should_pause(ev->pause_userdata)) {
		ev->paused = true;
		return -EAGAIN;
	}
	if (size < sizeof(e)) {
		ev->counters.malformed++;
		return 0;
	}
	memcpy(&e, data, sizeof(e));
	/* Strings from the kernel are bounded here, whatever the record holds. */
	e.comm[sizeof(e.comm) - 1] = '\0';
	e.filename[sizeof(e.filename) - 1] = '\0';
	e.message[sizeof(e.message) - 1] = '\0';
	ev->counters.received++;
	reorder_push(&ev->order, &e, ring_reader_pos(ev->reading), dispatch, ev);
	return 0;
}

/*
 * Read in batches. Each batch is handed on, and written into the watchers'
 * sockets (batch_end), before the ring's consumer position moves past it: a
 * greeterd that dies at any moment has delivered an event or leaves it in
 * the ring for the next one.
 */
static size_t drain_ring(struct events *ev, struct ring_reader *ring, bool may_pause)
{
	size_t total = 0, n;

	ev->paused = false;
	ev->may_pause = may_pause;
	ev->reading = ring;
	do {
		uint64_t held;

		n = ring_reader_read(ring, on_record, ev, BATCH_MAX);
		if (!ev->paused && ring_reader_caught_up(ring))
			reorder_settle(&ev->order, dispatch, ev);
		if (n && ev->batch_end)
			ev->batch_end(ev->batch_userdata);
		/* Events held for their turn stay in the ring too. */
		if (!reorder_oldest_pos(&ev->order, &held))
			held = ring_reader_pos(ring);
		ring_reader_commit(ring, held);
		if (ring == ev->ring && held != ev->stored_pos && ev->store_pos) {
			ev->store_pos(held, ev->store_userdata);
			ev->stored_pos = held;
		}
		total += n;
	} while (n == BATCH_MAX && !ev->paused);
	ev->reading = NULL;
	return total;
}

int events_drain(struct events *ev)
{
	size_t n = drain_ring(ev, ev->ring, true);

	/*
	 * While paused the ring stays readable: the wakeup would fire on every
	 * turn of the loop. A watcher catching up, or the timer, resumes.
	 */
	if (ev->io)
		(void)sd_event_source_set_enabled(ev->io, ev->paused ? SD_EVENT_OFF : SD_EVENT_ON);
	return (int)n;
}

int events_drain_fd(struct events *ev, int ring_fd)
{
	struct ring_reader *old;
	size_t n;
	int r = ring_reader_open(&old, ring_fd);

	if (r < 0)
		return r;
	n = drain_ring(ev, old, false);
	/* Nothing writes to a replaced ring any more: what is missing was lost. */
	reorder_settle(&ev->order, dispatch, ev);
	if (ev->batch_end)
		ev->batch_end(ev->batch_userdata);
	ring_reader_commit(old, ring_reader_pos(old));
	ring_reader_close(old);
	if (n > 0)
		log_notice("delivered %zu event(s) left in the replaced ring buffer", n);
	return (int)n;
}

static int on_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	events_drain(userdata);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct events *ev = userdata;

	events_drain(ev);
	return sd_event_source_set_time_relative(s, ev->max_delay_usec);
}

int events_start(struct events **out, sd_event *loop, int ring_fd, const struct events_options *o)
{
	struct events *ev = calloc(1, sizeof(*ev));
	int r;

	if (!ev)
		return -ENOMEM;
	ev->loop = sd_event_ref(loop);
	ev->max_delay_usec = o->max_delay_usec;
	reorder_init(&ev->order);
	ev->window_cap = o->window;
	ev->window = o->window ? calloc(o->window, sizeof(*ev->window)) : NULL;
	if (o->window && !ev->window) {
		events_free(ev);
		return -ENOMEM;
	}
	r = ring_reader_open(&ev->ring, ring_fd);
	if (r < 0) {
		log_error("cannot read the events ring buffer: %s", strerror(-r));
		events_free(ev);
		return r;
	}
	ev->store_pos = o->store_pos;
	ev->store_userdata = o->userdata;
	ev->stored_pos = ring_reader_pos(ev->ring);
	if (ev->store_pos)
		ev->store_pos(ev->stored_pos, ev->store_userdata);
	/* The map itself is pollable: readable when the kernel wakes us. */
	r = sd_event_add_io(loop, &ev->io, ring_fd, EPOLLIN, on_ready, ev);
	if (r >= 0)
		r = sd_event_add_time_relative(loop, &ev->timer, CLOCK_MONOTONIC, o->max_delay_usec,
					       o->max_delay_usec / 10 + 1, on_timer, ev);
	if (r >= 0)
		r = sd_event_source_set_enabled(ev->timer, SD_EVENT_ON);
	if (r < 0) {
		events_free(ev);
		return r;
	}
	*out = ev;
	return 0;
}

void events_free(struct events *ev)
{
	if (!ev)
		return;
	sd_event_source_disable_unref(ev->io);
	sd_event_source_disable_unref(ev->timer);
	ring_reader_close(ev->ring);
	sd_event_unref(ev->loop);
	free(ev->window);
	free(ev);
}

void events_set_pause(struct events *ev, bool (*should_pause)(void *userdata), void *userdata)
{
	ev->should_pause = should_pause;
	ev->pause_userdata = userdata;
}

void events_set_batch_end(struct events *ev, void (*batch_end)(void *userdata), void *userdata)
{
	ev->batch_end = batch_end;
	ev->batch_userdata = userdata;
}

int events_add_sink(struct events *ev, events_sink_fn fn, void *userdata)
{
	for (int i = 0; i < MAX_SINKS; i++) {
		if (!ev->sinks[i].fn) {
			ev->sinks[i].fn = fn;
			ev->sinks[i].userdata = userdata;
			return i;
		}
	}
	return -ENOSPC;
}

void events_remove_sink(struct events *ev, int handle)
{
	if (handle >= 0 && handle < MAX_SINKS)
		ev->sinks[handle].fn = NULL;
}

uint64_t events_window_start(const struct events *ev)
{
	return ev->window_total - ev->window_len;
}

uint64_t events_window_end(const struct events *ev)
{
	return ev->window_total;
}

const struct greeter_event *events_window_at(const struct events *ev, uint64_t pos)
{
	if (pos < events_window_start(ev) || pos >= ev->window_total)
		return NULL;
	return &ev->window[(ev->window_head + (pos - events_window_start(ev))) % ev->window_cap];
}

uint64_t events_window_find_after(const struct events *ev, uint64_t after_seq)
{
	for (uint64_t pos = events_window_start(ev); pos < ev->window_total; pos++)
		if (events_window_at(ev, pos)->seq > after_seq)
			return pos;
	return ev->window_total;
}

const struct events_counters *events_counters(const struct events *ev)
{
	return &ev->counters;
}

const char *events_source_name(unsigned source)
{
	if (source == GREETER_SOURCE_UID)
		return "uid";
	return source == GREETER_SOURCE_DEFAULT ? "default" : "builtin";
}

void events_format_line(const struct greeter_event *e, char *out, size_t size)
{
	char comm[GREETER_ESCAPED_SIZE(GREETER_COMM_SIZE)];
	char file[GREETER_ESCAPED_SIZE(GREETER_FILENAME_SIZE)];
	char msg[GREETER_ESCAPED_SIZE(GREETER_MESSAGE_SIZE)];

	greeter_escape(comm, sizeof(comm), e->comm, sizeof(e->comm));
	greeter_escape(file, sizeof(file), e->filename, sizeof(e->filename));
	greeter_escape(msg, sizeof(msg), e->message, sizeof(e->message));
	snprintf(out, size, "seq=%llu pid=%u ppid=%u uid=%u comm=%s file=%s message=\"%s\"%s",
		 (unsigned long long)e->seq, e->pid, e->ppid, e->uid, comm, file, msg,
		 (e->flags & GREETER_EVENT_FAILED) ? " failed" : "");
}
