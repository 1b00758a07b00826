/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Puts events back in sequence order. The BPF program takes an event's
 * sequence number just after reserving its record, so two CPUs can leave
 * N + 1 after N + 2 in the ring. A number below one already read belongs to
 * a record reserved before that one was submitted: once the reader has
 * caught up with the producer, every such record has been read, and a
 * number still missing was lost in the kernel (the ring was full).
 */
#ifndef GREETER_REORDER_H
#define GREETER_REORDER_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event_record.h"

/* Events held at most; a gap held longer than this is a loss. */
#define REORDER_MAX 256

/* An event in order, with where its record starts in the ring. */
typedef void (*reorder_emit_fn)(const struct greeter_event *e, uint64_t ring_pos, void *ctx);

struct reorder_item {
	struct greeter_event e;
	uint64_t ring_pos; /* where its record starts in the ring */
};

struct reorder {
	struct reorder_item items[REORDER_MAX]; /* held, by increasing seq */
	size_t len;
	uint64_t next; /* the next sequence number to emit; 0 before the first */
	uint64_t gaps; /* numbers given up on: lost in the kernel */
	uint64_t late; /* events whose number was given up on, or seen twice: dropped */
};

void reorder_init(struct reorder *r);

/* Take an event read from the ring; emits what is now in order. */
void reorder_push(struct reorder *r, const struct greeter_event *e, uint64_t ring_pos,
		  reorder_emit_fn emit, void *ctx);

/* Numbers below next were handed on before (by an earlier greeterd): drop them. */
void reorder_resume(struct reorder *r, uint64_t next);

/* The reader caught up with the producer: emit all held, gaps are losses. */
void reorder_settle(struct reorder *r, reorder_emit_fn emit, void *ctx);

/* The lowest ring position of a held event: the ring may be released up to it. */
bool reorder_oldest_pos(const struct reorder *r, uint64_t *pos);

#endif
