// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "escape.h"
#include "file_replace.h"
#include "state_file.h"
#include "validate.h"

#define DEFAULT_KEY "default"
/* Bytes of a hostile key quoted in an error message. */
#define QUOTE_MAX 24
/* A valid file has a comma between messages and a few at the top level. */
#define MAX_COMMAS (GREETER_MAX_MESSAGES + 64)
/* Names tried for a corrupt file: messages.json.corrupt-<stamp>[.N]. */
#define ASIDE_TRIES 100

__attribute__((format(printf, 3, 0))) static void vset_err(char *err, size_t err_size,
							   const char *fmt, va_list ap)
{
	if (err && err_size > 0)
		vsnprintf(err, err_size, fmt, ap);
}

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t err_size,
							  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset_err(err, err_size, fmt, ap);
	va_end(ap);
}

/* err = the formatted text + ": " + strerror(e); returns -e. */
__attribute__((format(printf, 4, 5))) static int set_errno(char *err, size_t err_size, int e,
							   const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vset_err(err, err_size, fmt, ap);
	va_end(ap);
	if (err && err_size > 0) {
		n = strlen(err);
		snprintf(err + n, err_size - n, ": %s", strerror_r(e, buf, sizeof(buf)));
	}
	return -e;
}

/* Record why data is not a valid state file; returns -EBADMSG. */
__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t err_size, const char *fmt,
						     ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset_err(err, err_size, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

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

/*
 * Checks cJSON does not make: a NUL (raw or \u0000) would silently cut a
 * string short; raw control bytes are not JSON. Counting commas bounds the
 * number of values, so a small file cannot make cJSON allocate much memory.
 */
static int lex_check(const unsigned char *s, size_t len, char *err, size_t err_size)
{
	bool in_string = false;
	size_t commas = 0, i;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '\0')
			return bad(err, err_size, "NUL byte at byte %zu", i);
		if (in_string) {
			if (c < 0x20)
				return bad(err, err_size,
					   "control character in a string at byte %zu", i);
			if (c == '"') {
				in_string = false;
			} else if (c == '\\') {
				if (i + 1 < len && (s[i + 1] == '"' || s[i + 1] == '\\'))
					i++;
				else if (len - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0)
					return bad(err, err_size, "\\u0000 at byte %zu", i);
			}
		} else if (c == '"') {
			in_string = true;
		} else if (c == ',') {
			if (++commas > MAX_COMMAS)
				return bad(err, err_size, "more than %d values", MAX_COMMAS);
		} else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
			return bad(err, err_size, "control character at byte %zu", i);
		}
	}
	return 0;
}

static int parse_messages(const cJSON *messages, struct greeter_entries *list, char *err,
			  size_t err_size)
{
	const cJSON *m;
	int r;

	cJSON_ArrayForEach (m, messages) {
		struct quoted q;
		const char *why;
		uint32_t uid;

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
		if (greeter_validate_message(m->valuestring, strlen(m->valuestring), &why) < 0)
			return bad(err, err_size, "\"%s\": %s", quote(&q, m->string), why);
		if (greeter_entries_find(list, uid)) {
			if (uid == GREETER_DEFAULT_UID)
				return bad(err, err_size, "\"default\" appears twice");
			return bad(err, err_size, "UID %" PRIu32 " appears twice", uid);
		}
		r = greeter_entries_add(list, uid, m->valuestring);
		if (r == -ENOSPC)
			return bad(err, err_size, "more than %d messages", GREETER_MAX_MESSAGES);
		if (r < 0)
			return set_errno(err, err_size, -r, "adding \"%s\"", quote(&q, m->string));
	}
	return 0;
}

int state_file_parse(const char *data, size_t len, struct greeter_entries *out, char *err,
		     size_t err_size)
{
	struct greeter_entries list = { 0 };
	const cJSON *item, *version = NULL, *messages = NULL;
	const char *end = NULL;
	cJSON *root = NULL;
	size_t i;
	int r;

	if ((!data && len > 0) || !out || out->count > 0) {
		set_err(err, err_size, "invalid arguments");
		return -EINVAL;
	}
	if (len > STATE_FILE_MAX_SIZE)
		return bad(err, err_size, "larger than %u bytes", STATE_FILE_MAX_SIZE);
	if (len == 0)
		return bad(err, err_size, "empty file");
	r = lex_check((const unsigned char *)data, len, err, err_size);
	if (r < 0)
		return r;

	/* Not cJSON_GetErrorPtr(): it is global state. */
	root = cJSON_ParseWithLengthOpts(data, len, &end, false);
	if (!root) {
		r = bad(err, err_size, "not valid JSON (error at byte %zu)",
			end ? (size_t)(end - data) : (size_t)0);
		goto out;
	}
	for (i = (size_t)(end - data); i < len; i++) {
		if (data[i] != ' ' && data[i] != '\t' && data[i] != '\n' && data[i] != '\r') {
			r = bad(err, err_size, "unexpected data after the JSON value at byte %zu",
				i);
			goto out;
		}
	}
	if (!cJSON_IsObject(root)) {
		r = bad(err, err_size, "the top level is not an object");
		goto out;
	}
	cJSON_ArrayForEach (item, root) {
		const cJSON **slot;

		if (!item->string)
			continue;
		if (strcmp(item->string, "version") == 0)
			slot = &version;
		else if (strcmp(item->string, "messages") == 0)
			slot = &messages;
		else
			continue; /* room for additions that older versions can ignore */
		if (*slot) {
			r = bad(err, err_size, "\"%s\" appears twice", item->string);
			goto out;
		}
		*slot = item;
	}
	if (!version) {
		r = bad(err, err_size, "no \"version\"");
		goto out;
	}
	if (!cJSON_IsNumber(version)) {
		r = bad(err, err_size, "\"version\" is not a number");
		goto out;
	}
	if (version->valuedouble != STATE_FILE_VERSION) {
		r = bad(err, err_size, "unsupported version %g (expected %d)", version->valuedouble,
			STATE_FILE_VERSION);
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

int state_file_format(const struct greeter_entries *entries, char **out, size_t *out_len, char *err,
		      size_t err_size)
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
	if (!root || !cJSON_AddNumberToObject(root, "version", STATE_FILE_VERSION))
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
		/* Never write what state_file_parse() would reject. */
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
	n = strlen(json);
	buf = malloc(n + 2);
	if (!buf)
		goto out;
	memcpy(buf, json, n);
	buf[n] = '\n';
	buf[n + 1] = '\0';
	*out = buf;
	*out_len = n + 1;
	r = 0;
out:
	if (r == -ENOMEM)
		set_err(err, err_size, "out of memory");
	cJSON_free(json);
	cJSON_Delete(root);
	free(sorted);
	return r;
}

static int join(char *buf, size_t size, const char *dir, const char *name, char *err,
		size_t err_size)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size)
		return set_errno(err, err_size, ENAMETOOLONG, "%s/%s", dir, name);
	return 0;
}

/* Rename path to <state_dir>/messages.json.corrupt-<stamp>[.N], never over
 * an earlier one. */
static int move_aside(const char *state_dir, const char *path, char *dst, size_t dst_size)
{
	char stamp[32] = "unknown";
	time_t now = time(NULL);
	struct tm tm;
	int i, n;

	if (gmtime_r(&now, &tm))
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	for (i = 0; i < ASIDE_TRIES; i++) {
		struct stat st;

		if (i == 0)
			n = snprintf(dst, dst_size, "%s/%s.corrupt-%s", state_dir, STATE_FILE_NAME,
				     stamp);
		else
			n = snprintf(dst, dst_size, "%s/%s.corrupt-%s.%d", state_dir,
				     STATE_FILE_NAME, stamp, i);
		if (n < 0 || (size_t)n >= dst_size)
			return -ENAMETOOLONG;
		if (renameat2(AT_FDCWD, path, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
			goto done;
		if (errno == EEXIST)
			continue;
		if (errno != EINVAL && errno != ENOSYS)
			return -errno;
		/* No RENAME_NOREPLACE on this file system: check, then rename. */
		if (lstat(dst, &st) == 0)
			continue;
		if (rename(path, dst) == 0)
			goto done;
		return -errno;
	}
	return -EEXIST;
done:
	/* Best effort: the rename is what matters, not its durability. */
	file_sync_dir(state_dir);
	return 0;
}

/* Read at most STATE_FILE_MAX_SIZE bytes; -EFBIG if there are more. */
static int read_bounded(int fd, size_t hint, char **out, size_t *out_len)
{
	size_t cap = (hint < STATE_FILE_MAX_SIZE ? hint : STATE_FILE_MAX_SIZE) + 1;
	size_t len = 0;
	char *buf, *bigger;
	ssize_t n;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			/* The file grew since fstat(); one byte past the limit
			 * is enough to know it is too large. */
			if (cap > STATE_FILE_MAX_SIZE)
				break;
			cap = cap * 2 > STATE_FILE_MAX_SIZE ? STATE_FILE_MAX_SIZE + 1 : cap * 2;
			bigger = realloc(buf, cap);
			if (!bigger) {
				free(buf);
				return -ENOMEM;
			}
			buf = bigger;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > STATE_FILE_MAX_SIZE) {
		free(buf);
		return -EFBIG;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

int state_file_load(const char *state_dir, struct greeter_entries *out, char *err, size_t err_size)
{
	char path[PATH_MAX], aside[PATH_MAX], why[512] = "";
	char *buf = NULL;
	struct stat st;
	size_t len = 0;
	int fd, r, m;

	if (!state_dir || !*state_dir || !out || out->count > 0) {
		set_err(err, err_size, "invalid arguments");
		return -EINVAL;
	}
	r = join(path, sizeof(path), state_dir, STATE_FILE_NAME, err, err_size);
	if (r < 0)
		return r;

	/* O_NONBLOCK: a FIFO in its place must not hang the daemon. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT) {
			set_err(err, err_size, "%s does not exist", path);
			return 1;
		}
		return set_errno(err, err_size, errno, "opening %s", path);
	}
	if (fstat(fd, &st) < 0) {
		r = set_errno(err, err_size, errno, "reading %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, err_size, "%s is not a regular file", path);
		r = -EINVAL;
		goto out;
	}

	r = read_bounded(fd, (size_t)st.st_size, &buf, &len);
	if (r == -EFBIG) {
		r = bad(why, sizeof(why), "larger than %u bytes", STATE_FILE_MAX_SIZE);
	} else if (r < 0) {
		r = set_errno(err, err_size, -r, "reading %s", path);
		goto out;
	} else {
		r = state_file_parse(buf, len, out, why, sizeof(why));
	}

	if (r == -EBADMSG) {
		m = move_aside(state_dir, path, aside, sizeof(aside));
		if (m == 0)
			set_err(err, err_size, "%s: %s; moved it to %s", path, why, aside);
		else
			set_errno(err, err_size, -m, "%s: %s; could not move it aside", path, why);
	} else if (r < 0) {
		set_err(err, err_size, "%s: %s", path, why);
	}
out:
	free(buf);
	close(fd);
	return r;
}

int state_file_save(const char *state_dir, const struct greeter_entries *entries, char *err,
		    size_t err_size)
{
	char *data = NULL;
	size_t len = 0;
	int r;

	if (!state_dir || !*state_dir) {
		set_err(err, err_size, "invalid arguments");
		return -EINVAL;
	}
	r = state_file_format(entries, &data, &len, err, err_size);
	if (r < 0)
		return r;
	r = file_replace(state_dir, STATE_FILE_NAME, data, len, true, err, err_size);
	free(data);
	return r;
}
