// SPDX-License-Identifier: LGPL-2.1-or-later
#include "reorder.h"

#include <string.h>

void reorder_init(struct reorder *r)
{
	r->len = 0;
	r->next = 0;
	r->gaps = 0;
	r->late = 0;
}

/* Emit the first held event, counting the numbers skipped to reach it. */
static void emit_first(struct reorder *r, reorder_emit_fn emit, void *ctx)
{
	struct greeter_event e = r->items[0].e;
	uint64_t pos = r->items[0].ring_pos;

	if (r->next && e.seq > r->next)
		r->gaps += e.seq - r->next;
	r->next = e.seq + 1;
	r->len--;
	memmove(&r->items[0], &r->items[1], r->len * sizeof(r->items[0]));
	emit(&e, pos, ctx);
}

/* Emit the held events that come next in order. */
static void emit_ready(struct reorder *r, reorder_emit_fn emit, void *ctx)
{
	while (r->len && r->next && r->items[0].e.seq == r->next)
		emit_first(r, emit, ctx);
}

void reorder_push(struct reorder *r, const struct greeter_event *e, uint64_t ring_pos,
		  reorder_emit_fn emit, void *ctx)
{
	size_t i = r->len;

	if (r->next && e->seq < r->next) {
		r->late++;
		return;
	}
	/* In order, nothing held: on at once, without copying the event in and out. */
	if (r->len == 0 && r->next && e->seq == r->next) {
		r->next++;
		emit(e, ring_pos, ctx);
		return;
	}
	/* Inversions are a few records deep: search from the end. */
	while (i > 0 && r->items[i - 1].e.seq > e->seq)
		i--;
	if (i > 0 && r->items[i - 1].e.seq == e->seq) {
		r->late++;
		return;
	}
	if (r->len == REORDER_MAX) {
		/* Held too long: the gap before the lowest is a loss. */
		if (i == 0) {
			if (r->next && e->seq > r->next)
				r->gaps += e->seq - r->next;
			r->next = e->seq + 1;
			emit(e, ring_pos, ctx);
			emit_ready(r, emit, ctx);
			return;
		}
		emit_first(r, emit, ctx);
		i--;
	}
	memmove(&r->items[i + 1], &r->items[i], (r->len - i) * sizeof(r->items[0]));
	r->items[i].e = *e;
	r->items[i].ring_pos = ring_pos;
	r->len++;
	emit_ready(r, emit, ctx);
}

void reorder_resume(struct reorder *r, uint64_t next)
{
	if (next > r->next)
		r->next = next;
	/* What is held below it now goes; what follows on from it leaves. */
	while (r->len && r->items[0].e.seq < r->next) {
		r->late++;
		r->len--;
		memmove(&r->items[0], &r->items[1], r->len * sizeof(r->items[0]));
	}
}

void reorder_settle(struct reorder *r, reorder_emit_fn emit, void *ctx)
{
	while (r->len)
		emit_first(r, emit, ctx);
}

bool reorder_oldest_pos(const struct reorder *r, uint64_t *pos)
{
	if (!r->len)
		return false;
	*pos = r->items[0].ring_pos;
	for (size_t i = 1; i < r->len; i++)
		if (r->items[i].ring_pos < *pos)
			*pos = r->items[i].ring_pos;
	return true;
}
