// SPDX-License-Identifier: LGPL-2.1-or-later
#include "eventlog.h"
#include "event_record.h"
#include "log.h"
#include "reorder.h"
#include "ring_reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SINKS 8
/* Events handed on between two stores of the read position. */
#define BATCH_MAX 1024
/* Window entries searched for a lower ring position than the oldest's (inversions). */
#define RELEASE_SCAN (2 * REORDER_MAX)

struct sink {
	events_sink_fn fn;
	void *userdata;
};

/* An event retained in a ring: the window holds where it is, not a copy. */
struct window_entry {
	uint64_t seq;
	uint64_t ring_pos;
	uint32_t uid; /* a reader's filter, without decoding the record */
	bool old; /* in the replaced ring, not ours */
};

struct events {
	sd_event *loop;
	struct ring_reader *ring;
	struct ring_reader *old; /* a replaced ring, kept for replay; or NULL */
	unsigned old_abi; /* the layout of its records */
	struct ring_reader *reading; /* the ring being drained */
	bool draining_old; /* the replaced ring: its gaps wait for ours */
	sd_event_source *io;
	sd_event_source *timer;
	uint64_t max_delay_usec;
	struct sink sinks[MAX_SINKS];
	struct reorder order;
	/* The replay window: retained events in sequence order, a circular buffer. */
	struct window_entry *window;
	size_t window_cap; /* events retained at most */
	size_t window_head; /* index of the oldest */
	size_t window_len;
	size_t window_old; /* of them from the replaced ring: the oldest, by number */
	uint64_t window_total; /* events ever added: the next position */
	uint64_t retain_bytes; /* ring bytes retained at most */
	/* events_window_at()'s copy, and which record it is: readers at one position decode once. */
	struct greeter_event scratch;
	bool scratch_valid, scratch_old;
	uint64_t scratch_ring_pos;
	uint64_t added_pos; /* the position window_add() gave the last event */
	struct events_counters counters;
	void (*batch_end)(void *userdata);
	void *batch_userdata;
	void (*store_pos)(uint64_t pos, uint64_t until, void *userdata);
	void *store_userdata;
	uint64_t stored_pos;
	/* Kept as where events may have been handed on up to: a batch reads no further. */
	uint64_t stored_until;
	bool at_bound; /* the batch stopped there */
	/* Our ring's records before this were perhaps handed on by the last greeterd. */
	uint64_t repeat_until;
	uint64_t index_until; /* while indexing a ring: records before this were handed on */
};

static struct window_entry *window_entry(const struct events *ev, size_t i)
{
	return &ev->window[(ev->window_head + i) % ev->window_cap];
}

static void window_pop(struct events *ev)
{
	if (window_entry(ev, 0)->old && ev->window_old)
		ev->window_old--;
	ev->window_head = (ev->window_head + 1) % ev->window_cap;
	ev->window_len--;
}

/* Add in sequence order: inversions, when rebuilt from a ring, are a few deep. */
static void window_add(struct events *ev, uint64_t seq, uint32_t uid, uint64_t ring_pos, bool old)
{
	size_t i;

	if (ev->window_len == ev->window_cap)
		window_pop(ev);
	i = ev->window_len;
	while (i > 0 && window_entry(ev, i - 1)->seq > seq)
		i--;
	if (i > 0 && window_entry(ev, i - 1)->seq == seq)
		return;
	for (size_t j = ev->window_len; j > i; j--)
		*window_entry(ev, j) = *window_entry(ev, j - 1);
	*window_entry(ev, i) = (struct window_entry){ seq, ring_pos, uid, old };
	ev->window_len++;
	ev->window_old += old;
	ev->window_total++;
	ev->added_pos = ev->window_total - ev->window_len + i;
}

static void saw_seq(struct events *ev, uint64_t seq)
{
	if (!ev->counters.have_seq || seq > ev->counters.last_seq)
		ev->counters.last_seq = seq;
	ev->counters.have_seq = true;
}

/*
 * The ring position of an event held for its turn says which ring it is in:
 * the replaced ring's carry this bit (no position reaches it). Both rings'
 * events meet in one order: while two builds' programs run, at the commit,
 * an event's neighbours in number may be in the other ring.
 */
#define POS_OLD_RING (1ULL << 63)

static void dispatch(const struct greeter_event *e, uint64_t ring_pos, void *ctx)
{
	struct events *ev = ctx;
	bool old = (ring_pos & POS_OLD_RING) != 0;

	ring_pos &= ~POS_OLD_RING;
	window_add(ev, e->seq, e->uid, ring_pos, old);
	saw_seq(ev, e->seq);
	if (!old && ring_pos < ev->repeat_until)
		ev->counters.repeated++;
	for (size_t s = 0; s < MAX_SINKS; s++)
		if (ev->sinks[s].fn)
			ev->sinks[s].fn(e, ev->sinks[s].userdata);
}

/* A record of ring (ours, or the replaced one) as an event; hostile input. */
static bool decode(struct events *ev, const struct ring_reader *ring, const void *data, size_t size,
		   struct greeter_event *e)
{
	unsigned abi = ring == ev->ring ? GREETER_ABI_VERSION : ev->old_abi;

	if (event_record_decode(data, size, abi, e) < 0) {
		ev->counters.malformed++;
		return false;
	}
	return true;
}

static int on_record(void *ctx, const void *data, size_t size)
{
	struct events *ev = ctx;
	struct greeter_event e;
	uint64_t pos = ring_reader_pos(ev->reading);

	/* Past what the next greeterd would count as perhaps handed on: wait. */
	if (ev->reading == ev->ring && pos >= ev->stored_until) {
		ev->at_bound = true;
		return -1;
	}
	if (!decode(ev, ev->reading, data, size, &e))
		return 0;
	ev->counters.received++;
	reorder_push(&ev->order, &e, ev->reading == ev->ring ? pos : pos | POS_OLD_RING, dispatch,
		     ev);
	return 0;
}

/* Records an earlier greeterd handed on and retained: into the window only. */
static int on_retained(void *ctx, const void *data, size_t size)
{
	struct events *ev = ctx;
	uint64_t pos = ring_reader_pos(ev->reading);
	struct greeter_event e;

	if (pos >= ev->index_until)
		return -1;
	if (decode(ev, ev->reading, data, size, &e)) {
		window_add(ev, e.seq, e.uid, pos, ev->reading != ev->ring);
		saw_seq(ev, e.seq);
	}
	return 0;
}

/* Index what ring holds before until; returns how many events. */
static size_t index_retained(struct events *ev, struct ring_reader *ring, uint64_t until)
{
	size_t total = 0, n;

	ev->reading = ring;
	ev->index_until = until;
	do {
		n = ring_reader_read(ring, on_retained, ev, BATCH_MAX);
		total += n;
	} while (n == BATCH_MAX);
	ev->reading = NULL;
	/* Numbers up to the last retained were handed on: repeats are dropped. */
	if (ev->counters.have_seq)
		reorder_resume(&ev->order, ev->counters.last_seq + 1);
	return total;
}

/*
 * The window index of our ring's oldest retained event (window_len if none):
 * the replaced ring's come first, by number, and a few may interleave with
 * ours at the switch.
 */
static size_t first_ours(const struct events *ev)
{
	size_t i = 0;

	if (!ev->window_old)
		return 0;
	while (i < ev->window_len && window_entry(ev, i)->old)
		i++;
	return i;
}

/*
 * Keep at most the window's worth of events, and at most retain_bytes of
 * the ring; release the rest to the kernel, but nothing that is retained
 * or held for its turn.
 */
static void retain(struct events *ev)
{
	uint64_t read = ring_reader_pos(ev->ring), release = read, held;
	size_t first, seen = 0;

	/*
	 * Our ring's oldest retained event decides; the replaced ring's, older
	 * still, go first when ours must (they cost our ring nothing).
	 */
	first = first_ours(ev);
	while (first < ev->window_len &&
	       read - window_entry(ev, first)->ring_pos > ev->retain_bytes) {
		bool was_old = window_entry(ev, 0)->old;

		window_pop(ev);
		first = was_old ? first - 1 : first_ours(ev);
	}
	if (reorder_oldest_pos(&ev->order, &held) && held < release)
		release = held;
	/*
	 * Our events are in ring order but for inversions a few deep: the
	 * lowest position is among the oldest of ours, however many of the
	 * replaced ring's come before them in the window.
	 */
	for (size_t i = first; i < ev->window_len && seen < RELEASE_SCAN; i++) {
		const struct window_entry *w = window_entry(ev, i);

		if (w->old)
			continue;
		seen++;
		if (w->ring_pos < release)
			release = w->ring_pos;
	}
	ring_reader_commit(ev->ring, release);
}

static void store(struct events *ev, uint64_t pos, uint64_t until)
{
	if (ev->store_pos && (pos != ev->stored_pos || until != ev->stored_until))
		ev->store_pos(pos, until, ev->store_userdata);
	ev->stored_pos = pos;
	ev->stored_until = until;
}

/*
 * Where the next greeterd reads on: everything before it was handed on.
 * What was read after it (past an event held for its turn) may have been,
 * and so may what the last greeterd had in flight, until we pass it.
 */
static void store_read_pos(struct events *ev)
{
	uint64_t read = ring_reader_pos(ev->ring), pos = read, held;

	if (reorder_oldest_pos(&ev->order, &held) && held < pos)
		pos = held;
	store(ev, pos, read > ev->repeat_until ? read : ev->repeat_until);
}

/* Before a batch: it may hand on all the producer has submitted now. */
static void store_batch_bound(struct events *ev)
{
	uint64_t until = ring_reader_produced(ev->ring);

	if (until > ev->stored_until)
		store(ev, ev->stored_pos, until);
}

/*
 * Read in batches. Each batch is handed on, and written into the watchers'
 * sockets (batch_end), before the read position is stored for the next
 * greeterd: a greeterd that dies at any moment has delivered an event or
 * leaves it for the next one to read. Before a batch, how far it may go is
 * stored too, so that the next greeterd knows which events it hands on
 * again (the journal may hold them twice) and counts them.
 */
static size_t drain_ring(struct events *ev, struct ring_reader *ring)
{
	size_t total = 0, n;

	ev->reading = ring;
	do {
		if (ring == ev->ring)
			store_batch_bound(ev);
		ev->at_bound = false;
		n = ring_reader_read(ring, on_record, ev, BATCH_MAX);
		if (ring_reader_caught_up(ring) && !ev->draining_old)
			reorder_settle(&ev->order, dispatch, ev);
		if (n && ev->batch_end)
			ev->batch_end(ev->batch_userdata);
		if (ring == ev->ring) {
			store_read_pos(ev);
			retain(ev);
		}
		ev->counters.late = ev->order.late;
		total += n;
	} while (n == BATCH_MAX || (n > 0 && ev->at_bound));
	ev->reading = NULL;
	return total;
}

int events_drain(struct events *ev)
{
	return (int)drain_ring(ev, ev->ring);
}

int events_drain_fd(struct events *ev, int ring_fd, uint64_t read_pos, unsigned abi)
{
	size_t kept, n;
	int r;

	if (ev->old)
		return -EBUSY;
	r = ring_reader_open(&ev->old, ring_fd);
	if (r < 0)
		return r;
	ev->old_abi = abi;
	/* Our ring's order first: the replaced ring's numbers come before. */
	reorder_settle(&ev->order, dispatch, ev);
	kept = index_retained(ev, ev->old, read_pos);
	/*
	 * Not settled when caught up: what is missing may be in our ring (an
	 * event of the commit), which is read next and settles both.
	 */
	ev->draining_old = true;
	n = drain_ring(ev, ev->old);
	ev->draining_old = false;
	if (ev->batch_end)
		ev->batch_end(ev->batch_userdata);
	if (n > 0 || kept > 0)
		log_notice("delivered %zu event(s) left in the replaced ring buffer, and kept %zu "
			   "it had delivered for replay",
			   n, kept);
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
	size_t kept;
	int r;

	if (!ev)
		return -ENOMEM;
	ev->loop = sd_event_ref(loop);
	ev->max_delay_usec = o->max_delay_usec;
	reorder_init(&ev->order);
	ev->window_cap = o->window ? o->window : 1;
	ev->window = calloc(ev->window_cap, sizeof(*ev->window));
	if (!ev->window) {
		events_free(ev);
		return -ENOMEM;
	}
	r = ring_reader_open(&ev->ring, ring_fd);
	if (r < 0) {
		log_error("cannot read the events ring buffer: %s", strerror(-r));
		events_free(ev);
		return r;
	}
	/* Half the ring at most: the other half takes what comes while nobody reads. */
	ev->retain_bytes = ring_reader_size(ev->ring) / 2;
	kept = index_retained(ev, ev->ring, o->read_pos);
	if (kept)
		log_info("%zu event(s) retained in the ring buffer for replay", kept);
	ev->store_userdata = o->userdata;
	/* What the last greeterd may have handed on stays counted if we die too. */
	ev->repeat_until = o->handed_until;
	ev->stored_pos = ring_reader_pos(ev->ring);
	ev->stored_until = o->handed_until > ev->stored_pos ? o->handed_until : ev->stored_pos;
	ev->store_pos = o->store_pos;
	if (ev->store_pos)
		ev->store_pos(ev->stored_pos, ev->stored_until, ev->store_userdata);
	/*
	 * The map is pollable, and readable while anything is retained: edge
	 * triggered, so that only the kernel's wakeups count.
	 */
	r = sd_event_add_io(loop, &ev->io, ring_fd, EPOLLIN | EPOLLET, on_ready, ev);
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
	ring_reader_close(ev->old);
	sd_event_unref(ev->loop);
	free(ev->window);
	free(ev);
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

const struct greeter_event *events_window_at(struct events *ev, uint64_t pos)
{
	const struct window_entry *w;
	const void *data;
	size_t size;

	if (pos < events_window_start(ev) || pos >= ev->window_total)
		return NULL;
	w = window_entry(ev, (size_t)(pos - events_window_start(ev)));
	if (ev->scratch_valid && ev->scratch_old == w->old && ev->scratch_ring_pos == w->ring_pos)
		return &ev->scratch;
	ev->scratch_valid = false;
	if (ring_reader_record(w->old ? ev->old : ev->ring, w->ring_pos, &data, &size) < 0 ||
	    !decode(ev, w->old ? ev->old : ev->ring, data, size, &ev->scratch))
		return NULL;
	ev->scratch_valid = true;
	ev->scratch_old = w->old;
	ev->scratch_ring_pos = w->ring_pos;
	return &ev->scratch;
}

bool events_window_uid(const struct events *ev, uint64_t pos, uint32_t *uid)
{
	if (pos < events_window_start(ev) || pos >= ev->window_total)
		return false;
	*uid = window_entry(ev, (size_t)(pos - events_window_start(ev)))->uid;
	return true;
}

uint64_t events_dispatch_pos(const struct events *ev)
{
	return ev->added_pos;
}

uint64_t events_window_find_after(const struct events *ev, uint64_t after_seq)
{
	size_t lo = 0, hi = ev->window_len;

	/* The window is in sequence order. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (window_entry(ev, mid)->seq > after_seq)
			hi = mid;
		else
			lo = mid + 1;
	}
	return events_window_start(ev) + lo;
}

const struct events_counters *events_counters(const struct events *ev)
{
	return &ev->counters;
}
