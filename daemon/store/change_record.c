// SPDX-License-Identifier: LGPL-2.1-or-later
#include "change_record.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "err_text.h"
#include "validate.h"

#define CRC_DIGITS 8
#define DEFAULT_KEY "default"
/* "4294967294" or "default", a tab, 63 bytes of text, a tab. */
#define ENTRY_MAX (10 + 1 + GREETER_MESSAGE_MAX + 1)
/* The longest line a valid record makes: beyond it, it is not one of ours. */
#define LINE_MAX_BYTES (CRC_DIGITS + 1 + 8 + (size_t)GREETER_MAX_MESSAGES * ENTRY_MAX + 1)

static const char *const op_names[] = {
	[CHANGE_SET] = "set",
	[CHANGE_REMOVE] = "remove",
	[CHANGE_REPLACE] = "replace",
};

static uint32_t crc_of(const char *data, size_t len)
{
	/* Lines are bounded by LINE_MAX_BYTES, far below 4 GiB. */
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)data, (uInt)len);
}

static int reserve(char **buf, size_t *len, size_t *cap, size_t more)
{
	size_t want = *len + more, n = *cap ? *cap : 256;
	char *p;

	if (want <= *cap)
		return 0;
	while (n < want)
		n *= 2;
	p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

int change_record_append(const struct change_record *rec, char **buf, size_t *len, size_t *cap)
{
	const struct greeter_entries *e = &rec->entries;
	size_t start, body;
	char crc[CRC_DIGITS + 2];
	int r;

	r = reserve(buf, len, cap, CRC_DIGITS + 1 + 8 + e->count * ENTRY_MAX + 2);
	if (r < 0)
		return r;
	start = *len;
	body = start + CRC_DIGITS + 1;
	*len = body;
	*len += (size_t)sprintf(*buf + *len, "%s", op_names[rec->op]);
	for (size_t i = 0; i < e->count; i++) {
		if (e->items[i].uid == GREETER_DEFAULT_UID)
			*len += (size_t)sprintf(*buf + *len, "\t" DEFAULT_KEY);
		else
			*len += (size_t)sprintf(*buf + *len, "\t%" PRIu32, e->items[i].uid);
		if (rec->op != CHANGE_REMOVE)
			*len += (size_t)sprintf(*buf + *len, "\t%s", e->items[i].text);
	}
	snprintf(crc, sizeof(crc), "%08" PRIx32 " ", crc_of(*buf + body, *len - body));
	memcpy(*buf + start, crc, CRC_DIGITS + 1);
	(*buf)[(*len)++] = '\n';
	return 0;
}

static int parse_uid_field(const char *s, size_t n, uint32_t *uid)
{
	char buf[16];

	/* One spelling per UID: as we write them, no leading zeros. */
	if (n == 0 || n >= sizeof(buf) || (n > 1 && s[0] == '0'))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strcmp(buf, DEFAULT_KEY) == 0) {
		*uid = GREETER_DEFAULT_UID;
		return 0;
	}
	return greeter_parse_uid(buf, uid);
}

/* The next tab-separated field of [*p, end): sets *f, *n, moves *p past it. */
static void next_field(const char **p, const char *end, const char **f, size_t *n)
{
	const char *tab = memchr(*p, '\t', (size_t)(end - *p));

	*f = *p;
	*n = (size_t)((tab ? tab : end) - *p);
	*p = tab ? tab + 1 : end;
}

int change_record_parse(const char *line, size_t len, struct change_record *out, char *why,
			size_t why_size)
{
	struct greeter_entries list = { 0 };
	const char *p, *end = line + len, *f;
	unsigned long crc;
	char digits[CRC_DIGITS + 1], *dend;
	enum change_op op;
	size_t n, i;
	int r;

	if (len < CRC_DIGITS + 2 || line[CRC_DIGITS] != ' ')
		return bad(why, why_size, "not a record (no checksum)");
	if (len > LINE_MAX_BYTES)
		return bad(why, why_size, "longer than any record");
	for (i = 0; i < CRC_DIGITS; i++)
		if (!((line[i] >= '0' && line[i] <= '9') || (line[i] >= 'a' && line[i] <= 'f')))
			return bad(why, why_size, "not a record (no checksum)");
	memcpy(digits, line, CRC_DIGITS);
	digits[CRC_DIGITS] = '\0';
	crc = strtoul(digits, &dend, 16);
	p = line + CRC_DIGITS + 1;
	if (crc != crc_of(p, (size_t)(end - p)))
		return bad(why, why_size, "checksum mismatch");
	if (memchr(p, '\0', (size_t)(end - p)))
		return bad(why, why_size, "NUL byte in a record");

	next_field(&p, end, &f, &n);
	for (op = CHANGE_SET; op <= CHANGE_REPLACE; op++)
		if (strlen(op_names[op]) == n && memcmp(f, op_names[op], n) == 0)
			break;
	if (op > CHANGE_REPLACE)
		return bad(why, why_size, "unknown operation");
	if (op == CHANGE_REMOVE && p == end)
		return bad(why, why_size, "a removal of nothing");
	/* A trailing tab would be an empty field; "replace" alone is an empty set. */
	if (f + n < end && p == end)
		return bad(why, why_size, "empty field");
	while (p < end) {
		char text[GREETER_MESSAGE_SIZE] = "x";
		const char *reason = NULL;
		uint32_t uid;

		next_field(&p, end, &f, &n);
		if (parse_uid_field(f, n, &uid) < 0) {
			r = bad(why, why_size, "bad UID in entry %zu", list.count + 1);
			goto fail;
		}
		if (op != CHANGE_REMOVE) {
			if (f + n == end) {
				r = bad(why, why_size, "entry %zu has no message", list.count + 1);
				goto fail;
			}
			next_field(&p, end, &f, &n);
			if (greeter_validate_message(f, n, &reason) < 0) {
				r = bad(why, why_size, "entry %zu: %s", list.count + 1, reason);
				goto fail;
			}
			memcpy(text, f, n);
			text[n] = '\0';
		}
		if (greeter_entries_find(&list, uid)) {
			r = bad(why, why_size, "entry %zu repeats a UID", list.count + 1);
			goto fail;
		}
		r = greeter_entries_add(&list, uid, text);
		if (r == -ENOSPC) {
			r = bad(why, why_size, "more than %d entries", GREETER_MAX_MESSAGES);
			goto fail;
		}
		if (r < 0)
			goto fail;
		if (op == CHANGE_REMOVE)
			memset(list.items[greeter_entries_find(&list, uid) - list.items].text, 0,
			       GREETER_MESSAGE_SIZE);
		if (p == end && f + n < end) {
			r = bad(why, why_size, "empty field");
			goto fail;
		}
	}
	out->op = op;
	out->entries = list;
	return 0;
fail:
	greeter_entries_free(&list);
	return r;
}

int change_record_apply(const struct change_record *rec, struct greeter_entries *state)
{
	const struct greeter_entries *e = &rec->entries;
	size_t added = 0;
	int r;

	switch (rec->op) {
	case CHANGE_SET:
		for (size_t i = 0; i < e->count; i++)
			added += !greeter_entries_find(state, e->items[i].uid);
		if (state->count + added > GREETER_MAX_MESSAGES)
			return -ENOSPC;
		for (size_t i = 0; i < e->count; i++) {
			r = greeter_entries_add(state, e->items[i].uid, e->items[i].text);
			if (r < 0)
				return r;
		}
		return 0;
	case CHANGE_REMOVE:
		for (size_t i = 0; i < e->count; i++)
			greeter_entries_remove(state, e->items[i].uid);
		return 0;
	case CHANGE_REPLACE: {
		struct greeter_entry *items = NULL;

		if (e->count) {
			items = malloc(e->count * sizeof(*items));
			if (!items)
				return -ENOMEM;
			memcpy(items, e->items, e->count * sizeof(*items));
		}
		greeter_entries_free(state);
		state->items = items;
		state->count = state->capacity = e->count;
		return 0;
	}
	}
	return -EINVAL;
}

void change_record_free(struct change_record *rec)
{
	greeter_entries_free(&rec->entries);
}

int change_log_replay(const char *data, size_t len, struct greeter_entries *state,
		      struct change_log_replay *res)
{
	size_t pos = 0;
	int r;

	memset(res, 0, sizeof(*res));
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		struct change_record rec = { 0 };
		char why[200];

		if (!nl) {
			res->torn = true;
			break;
		}
		r = change_record_parse(data + pos, (size_t)(nl - (data + pos)), &rec, why,
					sizeof(why));
		if (r == -ENOMEM)
			return r;
		if (r == 0) {
			r = change_record_apply(&rec, state);
			change_record_free(&rec);
			if (r == -ENOMEM)
				return r;
			if (r == -ENOSPC)
				snprintf(why, sizeof(why), "more than %d messages",
					 GREETER_MAX_MESSAGES);
		}
		if (r < 0) {
			res->damaged = true;
			snprintf(res->why, sizeof(res->why), "record %zu (byte %zu): %s",
				 res->applied + 1, pos, why);
			break;
		}
		res->applied++;
		pos = (size_t)(nl - data) + 1;
		res->good_len = pos;
	}
	return 0;
}
