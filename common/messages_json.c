// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "err_text.h"
#include "escape.h"
#include "json_members.h"
#include "messages_json.h"
#include "validate.h"

#define DEFAULT_KEY "default"
/* Bytes of a hostile key quoted in an error message. */
#define QUOTE_MAX 24
/* A valid file has a comma between messages and a few at the top level. */
#define MAX_COMMAS (GREETER_MAX_MESSAGES + 64)

/* Hostile text made printable and short enough for an error message. */
struct quoted {
	char text[GREETER_ESCAPED_SIZE(QUOTE_MAX) + 3];
};

static const char *quote(struct quoted *q, const char *s)
{
	size_t len = strnlen(s, QUOTE_MAX + 1);
	size_t n;

	n = greeter_escape(q->text, sizeof(q->text) - 3, s, len > QUOTE_MAX ? QUOTE_MAX : len);
	if (len > QUOTE_MAX)
		memcpy(q->text + n, "...", 4);
	return q->text;
}

/* "byte N (line L, column C)": what a person editing the file looks for. */
struct where {
	char text[80];
};

static const char *at(struct where *w, const unsigned char *s, size_t offset)
{
	size_t line = 1, column = 1;

	for (size_t i = 0; i < offset; i++) {
		if (s[i] == '\n') {
			line++;
			column = 1;
		} else if ((s[i] & 0xc0) != 0x80) {
			column++; /* a character, not each byte of one */
		}
	}
	snprintf(w->text, sizeof(w->text), "byte %zu (line %zu, column %zu)", offset, line, column);
	return w->text;
}

/*
 * Checks cJSON does not make: a NUL (raw or \u0000) would silently cut a
 * string short; raw control bytes are not JSON. Counting commas bounds the
 * number of values, so a small file cannot make cJSON allocate much memory.
 */
static int lex_check(const unsigned char *s, size_t len, char *err, size_t err_size)
{
	bool in_string = false;
	size_t commas = 0, i;
	struct where w;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '\0')
			return bad(err, err_size, "NUL byte at %s", at(&w, s, i));
		if (in_string) {
			if (c < 0x20)
				return bad(err, err_size, "control character in a string at %s",
					   at(&w, s, i));
			if (c == '"') {
				in_string = false;
			} else if (c == '\\') {
				if (i + 1 < len && (s[i + 1] == '"' || s[i + 1] == '\\'))
					i++;
				else if (len - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0)
					return bad(err, err_size, "\\u0000 at %s", at(&w, s, i));
			}
		} else if (c == '"') {
			in_string = true;
		} else if (c == ',') {
			if (++commas > MAX_COMMAS)
				return bad(err, err_size, "more than %d values", MAX_COMMAS);
		} else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
			return bad(err, err_size, "control character at %s", at(&w, s, i));
		}
	}
	return 0;
}

static int cmp_uid(const void *a, const void *b)
{
	const struct greeter_entry *x = a, *y = b;

	return (x->uid > y->uid) - (x->uid < y->uid);
}

/*
 * Entries are collected as they come and sorted once: inserting each in
 * place would move the list for every member of an unsorted file, which is
 * quadratic in the number of messages.
 */
static int parse_messages(const cJSON *messages, struct greeter_entries *list, char *err,
			  size_t err_size)
{
	const cJSON *m;
	size_t n = 0, i;
	int r;

	cJSON_ArrayForEach (m, messages)
		n++;
	if (n > GREETER_MAX_MESSAGES)
		return bad(err, err_size, "more than %d messages", GREETER_MAX_MESSAGES);
	if (n == 0)
		return 0; /* no items at all, as an empty list has */
	list->items = calloc(n, sizeof(*list->items));
	if (!list->items)
		return set_errno(err, err_size, ENOMEM, "reading the messages");
	list->capacity = n;

	cJSON_ArrayForEach (m, messages) {
		struct greeter_entry *e = &list->items[list->count];
		struct quoted q;
		const char *why;
		uint32_t uid;
		size_t len;

		if (!m->string)
			return bad(err, err_size, "\"messages\" has a member without a name");
		if (strcmp(m->string, DEFAULT_KEY) == 0) {
			uid = GREETER_DEFAULT_UID;
		} else {
			r = greeter_parse_uid(m->string, &uid);
			if (r == -ERANGE)
				return bad(err, err_size, "UID \"%s\" is out of range",
					   quote(&q, m->string));
			if (r < 0)
				return bad(err, err_size, "\"%s\" is neither a UID nor \"default\"",
					   quote(&q, m->string));
		}
		if (!cJSON_IsString(m) || !m->valuestring)
			return bad(err, err_size, "message for \"%s\" is not a string",
				   quote(&q, m->string));
		/* lex_check() ruled out embedded NULs: strlen() is the length. */
		len = strlen(m->valuestring);
		if (greeter_validate_message(m->valuestring, len, &why) < 0)
			return bad(err, err_size, "\"%s\": %s", quote(&q, m->string), why);
		e->uid = uid;
		memcpy(e->text, m->valuestring, len); /* calloc'd: zero-padded */
		list->count++;
	}

	qsort(list->items, list->count, sizeof(*list->items), cmp_uid);
	for (i = 1; i < list->count; i++) {
		uint32_t uid = list->items[i].uid;

		if (uid != list->items[i - 1].uid)
			continue;
		if (uid == GREETER_DEFAULT_UID)
			return bad(err, err_size, "\"default\" appears twice");
		return bad(err, err_size, "UID %" PRIu32 " appears twice", uid);
	}
	return 0;
}

int messages_json_parse(const char *data, size_t len, struct greeter_entries *out, char *err,
			size_t err_size)
{
	struct greeter_entries list = { 0 };
	static const char *const top_names[] = { "version", "messages" };
	const cJSON *top[2], *version, *messages;
	const char *twice = "";
	struct where w;
	const char *end = NULL;
	cJSON *root = NULL;
	size_t i;
	int r;

	if ((!data && len > 0) || !out || out->count > 0) {
		set_err(err, err_size, "invalid arguments");
		return -EINVAL;
	}
	if (len > MESSAGES_JSON_MAX_SIZE)
		return bad(err, err_size, "larger than %u bytes", MESSAGES_JSON_MAX_SIZE);
	if (len == 0)
		return bad(err, err_size, "empty file");
	r = lex_check((const unsigned char *)data, len, err, err_size);
	if (r < 0)
		return r;

	/* Not cJSON_GetErrorPtr(): it is global state. */
	root = cJSON_ParseWithLengthOpts(data, len, &end, false);
	if (!root) {
		r = bad(err, err_size, "not valid JSON: error at %s",
			at(&w, (const unsigned char *)data, end ? (size_t)(end - data) : 0));
		goto out;
	}
	for (i = (size_t)(end - data); i < len; i++) {
		if (data[i] != ' ' && data[i] != '\t' && data[i] != '\n' && data[i] != '\r') {
			r = bad(err, err_size, "unexpected data after the JSON value at %s",
				at(&w, (const unsigned char *)data, i));
			goto out;
		}
	}
	if (!cJSON_IsObject(root)) {
		r = bad(err, err_size, "the top level is not an object");
		goto out;
	}
	/* Other members: room for additions that older versions can ignore. */
	if (json_members(root, top_names, 2, top, true, &twice) < 0) {
		r = bad(err, err_size, "\"%s\" appears twice", twice);
		goto out;
	}
	version = top[0];
	messages = top[1];
	if (!version) {
		r = bad(err, err_size, "no \"version\"");
		goto out;
	}
	if (!cJSON_IsNumber(version)) {
		r = bad(err, err_size, "\"version\" is not a number");
		goto out;
	}
	if (version->valuedouble != MESSAGES_JSON_VERSION) {
		r = bad(err, err_size, "unsupported version %g (expected %d)", version->valuedouble,
			MESSAGES_JSON_VERSION);
		goto out;
	}
	if (!messages) {
		r = bad(err, err_size, "no \"messages\"");
		goto out;
	}
	if (!cJSON_IsObject(messages)) {
		r = bad(err, err_size, "\"messages\" is not an object");
		goto out;
	}
	r = parse_messages(messages, &list, err, err_size);
	if (r < 0)
		goto out;

	*out = list;
	list = (struct greeter_entries){ 0 };
	r = 0;
out:
	cJSON_Delete(root);
	greeter_entries_free(&list);
	return r;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct greeter_entry *x = *(const struct greeter_entry *const *)a;
	const struct greeter_entry *y = *(const struct greeter_entry *const *)b;

	return (x->uid > y->uid) - (x->uid < y->uid);
}

/*
 * cJSON's text with what greeter_escape() would not print raw written as
 * "\uXXXX" (all of it in the BMP), so that the document shown on a terminal
 * cannot reorder or break its lines; JSON reads it back the same. Only
 * strings hold non-ASCII. Returns a malloc'd copy with a newline added.
 */
static char *escape_display(const char *json, size_t *len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)json;
	size_t n = strlen(json), i = 0, o = 0;
	/* 3 bytes in, 6 out at most; the newline and the NUL. */
	char *buf = malloc(n * 2 + 2);

	if (!buf)
		return NULL;
	while (i < n) {
		uint32_t cp;
		size_t k = s[i] >= 0x80 ? greeter_utf8_decode(s + i, n - i, &cp) : 0;

		if (k > 0 && greeter_needs_u_escape(cp)) {
			buf[o++] = '\\';
			buf[o++] = 'u';
			buf[o++] = hex[(cp >> 12) & 0xf];
			buf[o++] = hex[(cp >> 8) & 0xf];
			buf[o++] = hex[(cp >> 4) & 0xf];
			buf[o++] = hex[cp & 0xf];
			i += k;
		} else {
			buf[o++] = json[i++];
		}
	}
	buf[o++] = '\n';
	buf[o] = '\0';
	*len = o;
	return buf;
}

int messages_json_format(const struct greeter_entries *entries, char **out, size_t *out_len,
			 char *err, size_t err_size)
{
	const struct greeter_entry **sorted = NULL;
	size_t count = entries ? entries->count : 0;
	cJSON *root = NULL, *messages;
	char *json = NULL, *buf;
	size_t i, n;
	int r = -ENOMEM;

	if (!out || !out_len || (count > 0 && !entries->items) || count > GREETER_MAX_MESSAGES) {
		set_err(err, err_size, "invalid arguments");
		return -EINVAL;
	}

	/* Sort a copy: stable output whatever order the caller keeps. */
	if (count > 0) {
		sorted = calloc(count, sizeof(*sorted));
		if (!sorted)
			goto out;
		for (i = 0; i < count; i++)
			sorted[i] = &entries->items[i];
		qsort(sorted, count, sizeof(*sorted), cmp_entry);
	}

	root = cJSON_CreateObject();
	if (!root || !cJSON_AddNumberToObject(root, "version", MESSAGES_JSON_VERSION))
		goto out;
	messages = cJSON_AddObjectToObject(root, "messages");
	if (!messages)
		goto out;
	for (i = 0; i < count; i++) {
		const struct greeter_entry *e = sorted[i];
		char key[16];
		const char *why;

		if (e->uid == GREETER_DEFAULT_UID)
			memcpy(key, DEFAULT_KEY, sizeof(DEFAULT_KEY));
		else
			snprintf(key, sizeof(key), "%" PRIu32, e->uid);
		/* Never write what messages_json_parse() would reject. */
		if (i > 0 && sorted[i - 1]->uid == e->uid) {
			set_err(err, err_size, "\"%s\" appears twice", key);
			r = -EINVAL;
			goto out;
		}
		if (greeter_validate_message(e->text, strnlen(e->text, sizeof(e->text)), &why) <
		    0) {
			set_err(err, err_size, "\"%s\": %s", key, why);
			r = -EINVAL;
			goto out;
		}
		if (!cJSON_AddStringToObject(messages, key, e->text))
			goto out;
	}

	json = cJSON_Print(root);
	if (!json)
		goto out;
	buf = escape_display(json, &n);
	if (!buf)
		goto out;
	*out = buf;
	*out_len = n;
	r = 0;
out:
	if (r == -ENOMEM)
		set_err(err, err_size, "out of memory");
	cJSON_free(json);
	cJSON_Delete(root);
	free(sorted);
	return r;
}
