/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Varlink framing, independent of any transport: every message is one JSON
 * object followed by a NUL byte. The framer cuts a byte stream into
 * messages; the output buffer queues serialised messages for a socket.
 * Both are bounded and allocate lazily, so an idle connection costs little.
 */
#ifndef GREETER_VARLINK_WIRE_H
#define GREETER_VARLINK_WIRE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct varlink_framer {
	char *buf;
	size_t cap; /* allocated */
	size_t limit; /* most bytes ever buffered: the largest message + its NUL */
	size_t head; /* first byte not yet returned */
	size_t tail; /* end of the data */
	size_t scanned; /* bytes after head known to hold no NUL */
};

enum {
	VARLINK_FRAME_NEED_MORE = 0,
	VARLINK_FRAME_MESSAGE = 1,
	/* varlink_framer_next() returns -EMSGSIZE for a message over the limit. */
};

/* max_message: the longest message accepted, NUL not counted. */
int varlink_framer_init(struct varlink_framer *f, size_t max_message);
void varlink_framer_done(struct varlink_framer *f);

/*
 * Copy up to len bytes in. Returns how many were taken (fewer than len, maybe
 * 0, when the buffer is full: take messages out with varlink_framer_next()
 * first), or -ENOMEM.
 */
ssize_t varlink_framer_feed(struct varlink_framer *f, const void *data, size_t len);

/*
 * Zero-copy alternative to feed: *space points to room for at most the
 * returned number of bytes (0 when full); read into it, then commit what was
 * read. Returns -ENOMEM if the buffer could not grow.
 */
ssize_t varlink_framer_space(struct varlink_framer *f, char **space);
void varlink_framer_commit(struct varlink_framer *f, size_t n);

/*
 * The next complete message: VARLINK_FRAME_MESSAGE with *msg pointing to it
 * (NUL-terminated, *len without the NUL, possibly 0) until the next feed or
 * space call; VARLINK_FRAME_NEED_MORE; or -EMSGSIZE when the buffered
 * message is already longer than the limit (the stream cannot be resynced:
 * close it).
 */
int varlink_framer_next(struct varlink_framer *f, const char **msg, size_t *len);

/* Bytes buffered and not yet returned by varlink_framer_next(). */
size_t varlink_framer_buffered(const struct varlink_framer *f);
/* Whether there is no room left for more input. */
bool varlink_framer_full(const struct varlink_framer *f);

/* Whether the len bytes at s are strictly valid UTF-8, as JSON text must be. */
bool varlink_utf8_valid(const char *s, size_t len);

/*
 * cJSON decodes "\u0000" into a NUL that silently cuts a string short, so
 * look for such escapes in the raw JSON text. Returns false if there is none.
 * Otherwise *member is the index of the root object's member holding the
 * first one (-1 if before any) and *sub_member the index of the member of
 * that member's object value (-1 if not inside one): the same indices as in
 * cJSON's child lists, to name the culprit.
 */
bool varlink_json_find_escaped_nul(const char *s, size_t len, int *member, int *sub_member);

struct varlink_outbuf {
	char *buf;
	size_t cap;
	size_t limit; /* most bytes ever pending */
	size_t head; /* first byte not yet sent */
	size_t tail;
};

void varlink_outbuf_init(struct varlink_outbuf *o, size_t limit);
void varlink_outbuf_done(struct varlink_outbuf *o);

/* Queue raw bytes. Returns 0, -ENOBUFS if over the limit, or -ENOMEM. */
int varlink_outbuf_append(struct varlink_outbuf *o, const void *data, size_t len);
/* Queue obj serialised with cJSON_PrintUnformatted() and a NUL. Same returns. */
int varlink_outbuf_append_json(struct varlink_outbuf *o, const cJSON *obj);

size_t varlink_outbuf_pending(const struct varlink_outbuf *o);
/*
 * Bytes allocated while anything is left to send: a message counts whole
 * until its last byte is sent; 0 once all is sent (a small buffer is then
 * kept for the next reply, a large one freed).
 */
size_t varlink_outbuf_held(const struct varlink_outbuf *o);
const char *varlink_outbuf_data(const struct varlink_outbuf *o);
void varlink_outbuf_consume(struct varlink_outbuf *o, size_t n);

/*
 * Send what is pending on a stream socket without blocking (and without
 * SIGPIPE). Returns 0 once everything is sent, -EAGAIN if the socket is
 * full, or another negative errno (-EPIPE, -ECONNRESET...) on failure.
 */
int varlink_outbuf_flush(struct varlink_outbuf *o, int fd);

#endif
