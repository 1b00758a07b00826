// SPDX-License-Identifier: LGPL-2.1-or-later
#include "eventlog.h"

struct events_cursor events_cursor_at_end(const struct events *ev)
{
	return (struct events_cursor){ .pos = events_window_end(ev) };
}

struct events_cursor events_cursor_after_seq(const struct events *ev, uint64_t seq)
{
	return (struct events_cursor){ .pos = events_window_find_after(ev, seq) };
}

uint64_t events_cursor_skip_lost(const struct events *ev, struct events_cursor *cur)
{
	uint64_t start = events_window_start(ev), lost = cur->unreadable;

	cur->unreadable = 0;
	if (cur->pos < start) {
		lost += start - cur->pos;
		cur->pos = start;
	}
	return lost;
}

const struct greeter_event *events_cursor_next(struct events *ev, struct events_cursor *cur,
					       uint64_t limit, events_uid_filter_fn want,
					       const void *arg, uint64_t *pos)
{
	uint64_t end = events_window_end(ev);

	if (limit > end)
		limit = end;
	while (cur->pos < limit) {
		uint64_t p = cur->pos++;
		const struct greeter_event *e;
		uint32_t uid;

		/* Another user's event is passed over without reading it. */
		if (!events_window_uid(ev, p, &uid) || !want(uid, arg))
			continue;
		e = events_window_at(ev, p);
		if (!e) {
			cur->unreadable++;
			continue;
		}
		*pos = p;
		return e;
	}
	return NULL;
}

bool events_cursor_done(const struct events *ev, const struct events_cursor *cur)
{
	return cur->pos >= events_window_end(ev);
}
