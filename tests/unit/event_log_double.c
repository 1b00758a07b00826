// SPDX-License-Identifier: LGPL-2.1-or-later
#include "event_log_double.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SINKS 8

struct events {
	struct greeter_event *items; /* positions start .. start + count - 1 */
	size_t count, cap;
	uint64_t start;
	uint64_t dispatch_pos;
	struct events_counters counters;
	struct {
		events_sink_fn fn;
		void *userdata;
	} sinks[MAX_SINKS];
	void (*batch_end)(void *userdata);
	void *batch_end_userdata;
};

int event_log_double_new(struct events **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void event_log_double_free(struct events *ev)
{
	if (!ev)
		return;
	free(ev->items);
	free(ev);
}

void event_log_double_push(struct events *ev, const struct greeter_event *e)
{
	if (ev->count == ev->cap) {
		size_t cap = ev->cap ? ev->cap * 2 : 64;
		struct greeter_event *items = realloc(ev->items, cap * sizeof(*items));

		if (!items)
			abort();
		ev->items = items;
		ev->cap = cap;
	}
	ev->items[ev->count++] = *e;
	ev->counters.received++;
	ev->counters.last_seq = e->seq;
	ev->counters.have_seq = true;
	ev->dispatch_pos = ev->start + ev->count - 1;
	for (int i = 0; i < MAX_SINKS; i++)
		if (ev->sinks[i].fn)
			ev->sinks[i].fn(e, ev->sinks[i].userdata);
	if (ev->batch_end)
		ev->batch_end(ev->batch_end_userdata);
}

void event_log_double_forget(struct events *ev, size_t n)
{
	if (n > ev->count)
		n = ev->count;
	memmove(ev->items, ev->items + n, (ev->count - n) * sizeof(*ev->items));
	ev->count -= n;
	ev->start += n;
}

/* events.h */

int events_drain(struct events *ev)
{
	(void)ev; /* pushed events are handed on at once: nothing waits */
	return 0;
}

void events_set_batch_end(struct events *ev, void (*batch_end)(void *userdata), void *userdata)
{
	ev->batch_end = batch_end;
	ev->batch_end_userdata = userdata;
}

int events_add_sink(struct events *ev, events_sink_fn fn, void *userdata)
{
	for (int i = 0; i < MAX_SINKS; i++)
		if (!ev->sinks[i].fn) {
			ev->sinks[i].fn = fn;
			ev->sinks[i].userdata = userdata;
			return i;
		}
	return -ENOSPC;
}

void events_remove_sink(struct events *ev, int handle)
{
	if (handle >= 0 && handle < MAX_SINKS)
		ev->sinks[handle].fn = NULL;
}

const struct events_counters *events_counters(const struct events *ev)
{
	return &ev->counters;
}

uint64_t events_window_start(const struct events *ev)
{
	return ev->start;
}

uint64_t events_window_end(const struct events *ev)
{
	return ev->start + ev->count;
}

const struct greeter_event *events_window_at(struct events *ev, uint64_t pos)
{
	if (pos < ev->start || pos >= ev->start + ev->count)
		return NULL;
	return &ev->items[pos - ev->start];
}

bool events_window_uid(const struct events *ev, uint64_t pos, uint32_t *uid)
{
	if (pos < ev->start || pos >= ev->start + ev->count)
		return false;
	*uid = ev->items[pos - ev->start].uid;
	return true;
}

uint64_t events_dispatch_pos(const struct events *ev)
{
	return ev->dispatch_pos;
}

uint64_t events_window_find_after(const struct events *ev, uint64_t after_seq)
{
	size_t i = 0;

	while (i < ev->count && ev->items[i].seq <= after_seq)
		i++;
	return ev->start + i;
}
