/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reads a BPF ring buffer map, with the consumer position moved only when
 * asked (ring_reader_commit): what was read but not yet handed on stays in
 * the ring, for the next reader, should this one die. (libbpf's ring_buffer
 * moves it after every record.)
 */
#ifndef GREETER_RING_READER_H
#define GREETER_RING_READER_H

#include <stddef.h>
#include <stdint.h>

struct ring_reader;

/* Return 0 to go on, < 0 to stop before this record (it stays unread). */
typedef int (*ring_record_fn)(void *ctx, const void *data, size_t size);

int ring_reader_open(struct ring_reader **out, int map_fd);
void ring_reader_close(struct ring_reader *r);

/*
 * Hand at most max committed records after the read position to fn, in
 * ring order, skipping discarded ones. Returns how many fn took.
 */
size_t ring_reader_read(struct ring_reader *r, ring_record_fn fn, void *ctx, size_t max);

/* Release everything read so far to the kernel. */
void ring_reader_commit(struct ring_reader *r);

#endif
