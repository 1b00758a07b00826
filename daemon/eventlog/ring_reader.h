/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reads a BPF ring buffer map, with the consumer position moved only when
 * asked (ring_reader_commit): what was read but not yet released stays in
 * the ring, for replay and for the next reader, should this one die.
 * (libbpf's ring_buffer moves it after every record.)
 */
#ifndef GREETER_RING_READER_H
#define GREETER_RING_READER_H

#include <stdbool.h>
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

/* Where the record handed to fn starts (while in fn), or the next one will. */
uint64_t ring_reader_pos(const struct ring_reader *r);

/* Where the producer is: everything before it is reserved or submitted. */
uint64_t ring_reader_produced(const struct ring_reader *r);

/* Everything the producer had submitted when asked has been read. */
bool ring_reader_caught_up(const struct ring_reader *r);

/* Release to the kernel what was read before pos (at most all read so far). */
void ring_reader_commit(struct ring_reader *r, uint64_t pos);

/* The ring's size in bytes. */
uint64_t ring_reader_size(const struct ring_reader *r);

/*
 * A record read but not released (or the one fn is given), by the position
 * it starts at: the kernel writes there no more, so it can be read again
 * (replayed) as often as asked. -ENOENT when pos holds no such record.
 */
int ring_reader_record(const struct ring_reader *r, uint64_t pos, const void **data, size_t *size);

#endif
