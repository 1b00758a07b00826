// SPDX-License-Identifier: LGPL-2.1-or-later
#include "varlink_wire.h"
#include "json_print.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "validate.h"

/* First allocation; buffers double from here up to their limit. */
#define WIRE_INITIAL_SIZE 4096

static size_t grow_size(size_t cap, size_t need, size_t limit)
{
	/* A first large message gets its size, not the next power of two. */
	size_t n = cap ? cap : need > WIRE_INITIAL_SIZE ? need : WIRE_INITIAL_SIZE;

	while (n < need && n <= limit / 2)
		n *= 2;
	if (n < need)
		n = need;
	return n < limit ? n : limit;
}

int varlink_framer_init(struct varlink_framer *f, size_t max_message)
{
	memset(f, 0, sizeof(*f));
	if (max_message == 0 || max_message >= SIZE_MAX / 4)
		return -EINVAL;
	f->limit = max_message + 1;
	return 0;
}

void varlink_framer_done(struct varlink_framer *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

size_t varlink_framer_buffered(const struct varlink_framer *f)
{
	return f->tail - f->head;
}

bool varlink_framer_full(const struct varlink_framer *f)
{
	return varlink_framer_buffered(f) >= f->limit;
}

ssize_t varlink_framer_space(struct varlink_framer *f, char **space)
{
	size_t used = f->tail - f->head, room;

	*space = NULL;
	if (used >= f->limit)
		return 0;
	if (used == 0) {
		f->head = f->tail = f->scanned = 0;
	} else if (f->tail == f->cap && f->head > 0) {
		/* Only move data when there is no room at the end. */
		memmove(f->buf, f->buf + f->head, used);
		f->head = 0;
		f->tail = used;
	}
	if (f->tail == f->cap) {
		size_t n = grow_size(f->cap, f->cap + 1, f->limit);
		char *p = realloc(f->buf, n);

		if (!p)
			return -ENOMEM;
		f->buf = p;
		f->cap = n;
	}
	room = f->cap - f->tail;
	if (room > f->limit - used)
		room = f->limit - used;
	*space = f->buf + f->tail;
	return (ssize_t)room;
}

void varlink_framer_commit(struct varlink_framer *f, size_t n)
{
	f->tail += n;
}

ssize_t varlink_framer_feed(struct varlink_framer *f, const void *data, size_t len)
{
	const char *p = data;
	size_t done = 0;

	while (done < len) {
		char *space;
		ssize_t room = varlink_framer_space(f, &space);
		size_t n;

		if (room < 0)
			return done > 0 ? (ssize_t)done : room;
		if (room == 0)
			break;
		n = len - done < (size_t)room ? len - done : (size_t)room;
		memcpy(space, p + done, n);
		varlink_framer_commit(f, n);
		done += n;
	}
	return (ssize_t)done;
}

int varlink_framer_next(struct varlink_framer *f, const char **msg, size_t *len)
{
	size_t used = f->tail - f->head;
	const char *start, *nul;

	/* Found by fuzzing: buf is NULL until the first byte comes, and even
	 * NULL + 0 is undefined behaviour (UBSan); so no pointer before data. */
	if (used == 0)
		return VARLINK_FRAME_NEED_MORE;
	start = f->buf + f->head;
	/* Remember how far we looked so byte-by-byte input stays linear. */
	nul = memchr(start + f->scanned, 0, used - f->scanned);
	if (!nul) {
		f->scanned = used;
		return used >= f->limit ? -EMSGSIZE : VARLINK_FRAME_NEED_MORE;
	}
	*msg = start;
	*len = (size_t)(nul - start);
	f->head += *len + 1;
	f->scanned = 0;
	return VARLINK_FRAME_MESSAGE;
}

bool varlink_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n;

		if (u[i] < 0x80) {
			i++;
			continue;
		}
		n = greeter_utf8_decode(u + i, len - i, &cp);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Skip a string starting after its opening quote; sets *nul if it has a \u0000. */
static size_t skip_string(const char *s, size_t len, size_t i, bool *nul)
{
	*nul = false;
	while (i < len && s[i] != '"') {
		if (s[i] == '\\') {
			if (i + 5 < len && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0)
				*nul = true;
			i++;
		}
		i++;
	}
	return i + 1;
}

bool varlink_json_find_escaped_nul(const char *s, size_t len, int *member, int *sub_member)
{
	int depth = 0, m = -1, sub = -1;
	size_t i = 0;

	*member = *sub_member = -1;
	/* Cheap test first: most messages have no such escape at all. */
	if (!memmem(s, len, "\\u0000", 6))
		return false;
	while (i < len) {
		char ch = s[i++];
		bool nul, key;
		size_t j;

		if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			depth--;
		} else if (ch == '"') {
			i = skip_string(s, len, i, &nul);
			/*
			 * A string followed by ':' is a member name. Found by
			 * fuzzing: cJSON skips every byte up to ' ' as white
			 * space, not just the four JSON allows, so must we, or
			 * "a"\b:... is not seen as a member and the wrong
			 * parameter is named.
			 */
			for (j = i; j < len && (unsigned char)s[j] <= ' '; j++)
				;
			key = j < len && s[j] == ':';
			if (key && depth == 1) {
				m++;
				sub = -1;
			} else if (key && depth == 2) {
				sub++;
			}
			if (nul) {
				*member = m;
				*sub_member = depth >= 2 ? sub : -1;
				return true;
			}
		}
	}
	return false;
}

void varlink_outbuf_init(struct varlink_outbuf *o, size_t limit)
{
	memset(o, 0, sizeof(*o));
	o->limit = limit;
}

void varlink_outbuf_done(struct varlink_outbuf *o)
{
	free(o->buf);
	memset(o, 0, sizeof(*o));
}

size_t varlink_outbuf_pending(const struct varlink_outbuf *o)
{
	return o->tail - o->head;
}

size_t varlink_outbuf_held(const struct varlink_outbuf *o)
{
	/* A small buffer kept for the next reply costs nothing while idle. */
	return o->tail > o->head ? o->cap : 0;
}

const char *varlink_outbuf_data(const struct varlink_outbuf *o)
{
	return o->buf + o->head;
}

void varlink_outbuf_consume(struct varlink_outbuf *o, size_t n)
{
	if (n > o->tail - o->head)
		n = o->tail - o->head;
	o->head += n;
	if (o->head == o->tail) {
		o->head = o->tail = 0;
		/* Give back memory a burst (say, a long list) made us take. */
		if (o->cap > 16 * WIRE_INITIAL_SIZE) {
			free(o->buf);
			o->buf = NULL;
			o->cap = 0;
		}
	}
}

int varlink_outbuf_append(struct varlink_outbuf *o, const void *data, size_t len)
{
	size_t used = o->tail - o->head;

	if (len > o->limit || used > o->limit - len)
		return -ENOBUFS;
	if (o->cap - o->tail < len) {
		if (o->head > 0) {
			memmove(o->buf, o->buf + o->head, used);
			o->head = 0;
			o->tail = used;
		}
		if (o->cap - o->tail < len) {
			size_t n = grow_size(o->cap, used + len, o->limit);
			char *p = realloc(o->buf, n);

			if (!p)
				return -ENOMEM;
			o->buf = p;
			o->cap = n;
		}
	}
	if (len > 0)
		memcpy(o->buf + o->tail, data, len);
	o->tail += len;
	return 0;
}

int varlink_outbuf_append_json(struct varlink_outbuf *o, const cJSON *obj)
{
	char *s = greeter_json_print(obj);
	int r;

	if (!s)
		return -ENOMEM;
	/* The terminating NUL is the message separator. */
	r = varlink_outbuf_append(o, s, strlen(s) + 1);
	free(s);
	return r;
}

int varlink_outbuf_flush(struct varlink_outbuf *o, int fd)
{
	while (varlink_outbuf_pending(o) > 0) {
		ssize_t n = send(fd, varlink_outbuf_data(o), varlink_outbuf_pending(o),
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EWOULDBLOCK)
				return -EAGAIN;
			return -errno;
		}
		varlink_outbuf_consume(o, (size_t)n);
	}
	return 0;
}
