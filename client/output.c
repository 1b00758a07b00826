// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What greeterctl prints: replies for humans (escaped, aligned) or as JSON,
 * and greeterd's errors in words.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "escape.h"
#include "greeterctl.h"
#include "json_print.h"
#include "validate.h"
#include "io.greeter.varlink.h"

bool json_uint(const cJSON *v, double max, uint64_t *out)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
	    v->valuedouble > max || floor(v->valuedouble) != v->valuedouble)
		return false;
	*out = (uint64_t)v->valuedouble;
	return true;
}

const char *json_str(const cJSON *obj, const char *name)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, name));

	return s ? s : "";
}

/* A whole number member, or 0: the daemon is trusted for shape, not for sense. */
static unsigned long long json_num(const cJSON *obj, const char *name)
{
	uint64_t v;

	if (!json_uint(cJSON_GetObjectItemCaseSensitive(obj, name), 18446744073709549568.0, &v))
		return 0;
	return (unsigned long long)v;
}

/* Whether obj has the number member name (an older greeterd's reply may lack it). */
static bool json_has_num(const cJSON *obj, const char *name)
{
	return cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(obj, name));
}

char *escape_dup(const char *s)
{
	size_t len = strlen(s);
	char *out = malloc(GREETER_ESCAPED_SIZE(len));

	if (out)
		greeter_escape(out, GREETER_ESCAPED_SIZE(len), s, len);
	return out;
}

int next_columns(const char *s, size_t len, size_t *i)
{
	uint32_t cp;
	size_t n = greeter_utf8_decode((const unsigned char *)s + *i, len - *i, &cp);
	int w;

	if (n == 0) {
		n = 1;
		cp = '?';
	}
	*i += n;
	/* wcwidth() knows nothing outside a UTF-8 locale: count 1. */
	w = wcwidth((wchar_t)cp);
	return w < 0 ? 1 : w;
}

int display_width(const char *s)
{
	size_t len = strlen(s), i = 0;
	int width = 0;

	while (i < len)
		width += next_columns(s, len, &i);
	return width;
}

void print_pad(FILE *f, int n)
{
	while (n-- > 0)
		fputc(' ', f);
}

void print_escaped(FILE *f, const char *s)
{
	char *e = escape_dup(s ? s : "");

	fputs(e ? e : "?", f);
	free(e);
}

void print_escaped_padded(FILE *f, const char *s, int width)
{
	char *e = escape_dup(s ? s : "");

	fputs(e ? e : "?", f);
	print_pad(f, width - display_width(e ? e : "?"));
	free(e);
}

/*
 * JSON allows C1 controls and the bidirectional controls (U+202E reorders
 * the rest of a terminal line) raw inside strings: written as \uXXXX,
 * as the human form escapes them. Outside strings JSON is ASCII, so any
 * such character met belongs to a string.
 */
static void put_json_text(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len = strlen(text);

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = s[i] < 0x80 ? 0 : greeter_utf8_decode(s + i, len - i, &cp);

		if (n && greeter_needs_u_escape(cp)) {
			printf("\\u%04x", (unsigned)cp);
			i += n;
		} else {
			putchar(s[i++]);
		}
	}
	putchar('\n');
}

int print_json(const cJSON *params)
{
	/* One line: easy for jq and line-oriented tools alike. */
	char *text = greeter_json_print(params);

	if (!text) {
		fprintf(stderr, "greeterctl: out of memory\n");
		return EXIT_DAEMON;
	}
	put_json_text(text);
	cJSON_free(text);
	return EXIT_OK;
}

/*
 * Name lookups can be slow (NSS over the network) and tail shows the same
 * few users over and over: remember the last name seen per slot.
 */
#define USER_CACHE_SIZE 64

struct user_cache_entry {
	bool valid;
	bool found;
	uint32_t uid;
	char name[64];
};

static bool no_user_names;

void user_names_off(void)
{
	no_user_names = true;
}

const char *user_name(uint32_t uid)
{
	static struct user_cache_entry cache[USER_CACHE_SIZE];
	struct user_cache_entry *e = &cache[uid % USER_CACHE_SIZE];
	const struct passwd *pw;

	if (no_user_names)
		return NULL;
	if (e->valid && e->uid == uid)
		return e->found ? e->name : NULL;
	pw = getpwuid(uid);
	e->valid = true;
	e->uid = uid;
	/* A name too long for the cache is shown as the UID. */
	e->found = pw && strlen(pw->pw_name) < sizeof(e->name);
	if (e->found)
		strcpy(e->name, pw->pw_name);
	return e->found ? e->name : NULL;
}

/* Errors */

static void error_reason(const char *error, const cJSON *p)
{
	const cJSON *uid = cJSON_GetObjectItemCaseSensitive(p, "uid");
	uint64_t v;

	if (!strcmp(error, IO_GREETER_ERROR_MESSAGE_TOO_LONG)) {
		fprintf(stderr, "message is longer than %llu bytes", json_num(p, "limit"));
	} else if (!strcmp(error, IO_GREETER_ERROR_NO_SUCH_MESSAGE)) {
		if (json_uint(uid, 4294967294.0, &v))
			fprintf(stderr, "no message is set for UID %llu", (unsigned long long)v);
		else
			fputs("no default message is set", stderr);
	} else if (!strcmp(error, IO_GREETER_ERROR_REQUEST_TOO_LARGE)) {
		fprintf(stderr, "the request is larger than greeterd accepts (%llu bytes)",
			json_num(p, "limit"));
	} else if (!strcmp(error, IO_GREETER_ERROR_TOO_MANY_CONNECTIONS)) {
		fprintf(stderr,
			"greeterd has too many connections open (limit %llu); try again later",
			json_num(p, "limit"));
	} else if (!strcmp(error, "org.varlink.service.InvalidParameter")) {
		fputs("greeterd rejected the parameter '", stderr);
		print_escaped(stderr, json_str(p, "parameter"));
		fputc('\'', stderr);
	} else if (!strcmp(error, "org.varlink.service.MethodNotFound") ||
		   !strcmp(error, "org.varlink.service.InterfaceNotFound")) {
		const char *what = cJSON_HasObjectItem(p, "method") ? "method" : "interface";

		fputs("greeterd does not know ", stderr);
		print_escaped(stderr, json_str(p, what));
		fputs(" (is it older than greeterctl?)", stderr);
	} else if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "reason"))) {
		/* PermissionDenied, InvalidMessage, WriteFailed, and any newer error. */
		print_escaped(stderr, json_str(p, "reason"));
	} else if (p && p->child) {
		char *text = cJSON_PrintUnformatted(p);

		print_escaped(stderr, text ? text : "?");
		cJSON_free(text);
	} else {
		fputs("no details given", stderr);
	}
}

void print_daemon_error(const char *what, const char *error, const cJSON *params)
{
	fprintf(stderr, "greeterctl: %s: ", what);
	print_escaped(stderr, error);
	fputs(": ", stderr);
	error_reason(error, params);
	fputc('\n', stderr);
}

/* GetMessage */

static const char *source_words(const char *source)
{
	if (!strcmp(source, "uid"))
		return "own";
	if (!strcmp(source, "default"))
		return "default";
	if (!strcmp(source, "builtin"))
		return "built-in";
	return NULL;
}

void print_message(const cJSON *reply)
{
	const char *source = json_str(reply, "source"), *name;
	uint64_t uid;

	fputs("uid:     ", stdout);
	if (json_uint(cJSON_GetObjectItemCaseSensitive(reply, "uid"), 4294967295.0, &uid)) {
		printf("%llu", (unsigned long long)uid);
		name = user_name((uint32_t)uid);
		if (name) {
			fputs(" (", stdout);
			print_escaped(stdout, name);
			fputc(')', stdout);
		}
	} else {
		fputc('?', stdout);
	}
	fputs("\nmessage: ", stdout);
	print_escaped(stdout, json_str(reply, "message"));
	fputs("\nsource:  ", stdout);
	if (source_words(source))
		fputs(source_words(source), stdout);
	else
		print_escaped(stdout, source);
	fputc('\n', stdout);
}

/* ListMessages */

struct row {
	bool is_default;
	uint32_t uid;
	char uid_text[16];
	char *user; /* escaped */
	char *message; /* escaped */
};

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->is_default != y->is_default)
		return x->is_default ? 1 : -1;
	return (x->uid > y->uid) - (x->uid < y->uid);
}

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

void print_message_list(const cJSON *reply)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(reply, "messages"), *m;
	int n = cJSON_GetArraySize(list), count = 0;
	int w_uid = 3, w_user = 4;
	struct row *rows = calloc((size_t)max_int(n, 1), sizeof(*rows));

	if (!rows) {
		fprintf(stderr, "greeterctl: out of memory\n");
		return;
	}
	cJSON_ArrayForEach (m, list) {
		struct row *r = &rows[count++];
		uint64_t uid;
		const char *name = NULL;

		if (json_uint(cJSON_GetObjectItemCaseSensitive(m, "uid"), 4294967294.0, &uid)) {
			r->uid = (uint32_t)uid;
			snprintf(r->uid_text, sizeof(r->uid_text), "%u", r->uid);
			name = user_name(r->uid);
		} else {
			r->is_default = true;
			snprintf(r->uid_text, sizeof(r->uid_text), "default");
		}
		r->user = escape_dup(name ? name : "-");
		r->message = escape_dup(json_str(m, "message"));
		if (!r->user || !r->message) {
			fprintf(stderr, "greeterctl: out of memory\n");
			goto out;
		}
		w_uid = max_int(w_uid, (int)strlen(r->uid_text));
		w_user = max_int(w_user, display_width(r->user));
	}
	qsort(rows, (size_t)count, sizeof(*rows), row_cmp);

	printf("%-*s  %-*s  MESSAGE\n", w_uid, "UID", w_user, "USER");
	for (int i = 0; i < count; i++) {
		printf("%-*s  %s", w_uid, rows[i].uid_text, rows[i].user);
		print_pad(stdout, w_user - display_width(rows[i].user));
		printf("  %s\n", rows[i].message);
	}
out:
	for (int i = 0; i < count; i++) {
		free(rows[i].user);
		free(rows[i].message);
	}
	free(rows);
}

/* GetStatus */

void format_duration(char *buf, size_t size, unsigned long long usec)
{
	unsigned long long s = usec / 1000000;
	unsigned long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;

	s %= 60;
	if (d)
		snprintf(buf, size, "%llud %lluh %llumin %llus", d, h, m, s);
	else if (h)
		snprintf(buf, size, "%lluh %llumin %llus", h, m, s);
	else if (m)
		snprintf(buf, size, "%llumin %llus", m, s);
	else
		snprintf(buf, size, "%llu.%03llus", s, usec / 1000 % 1000);
}

static void format_size(char *buf, size_t size, unsigned long long bytes)
{
	if (bytes >= (1ull << 20) && !(bytes & ((1ull << 20) - 1)))
		snprintf(buf, size, "%llu MiB", bytes >> 20);
	else if (bytes >= (1ull << 10) && !(bytes & ((1ull << 10) - 1)))
		snprintf(buf, size, "%llu KiB", bytes >> 10);
	else
		snprintf(buf, size, "%llu bytes", bytes);
}

static void label(const char *name)
{
	printf("%-15s", name);
}

static void status_string(const char *name, const cJSON *reply, const char *member)
{
	label(name);
	print_escaped(stdout, json_str(reply, member));
	fputc('\n', stdout);
}

void print_status(const cJSON *reply)
{
	const cJSON *counters = cJSON_GetObjectItemCaseSensitive(reply, "counters");
	const cJSON *progs = cJSON_GetObjectItemCaseSensitive(reply, "programs"), *p;
	char buf[64];
	bool first = true;

	status_string("Version:", reply, "version");
	label("Attach mode:");
	print_escaped(stdout, json_str(reply, "attach_mode"));
	if (*json_str(reply, "attach_reason")) {
		fputs(" (", stdout);
		print_escaped(stdout, json_str(reply, "attach_reason"));
		fputc(')', stdout);
	}
	fputc('\n', stdout);
	status_string("Kernel:", reply, "kernel_release");
	status_string("Pin dir:", reply, "pin_dir");
	status_string("State dir:", reply, "state_dir");
	format_duration(buf, sizeof(buf), json_num(reply, "uptime_usec"));
	label("Uptime:");
	printf("%s\n", buf);
	label("Messages:");
	printf("%llu\n", json_num(reply, "messages"));
	label("Watchers:");
	printf("%llu\n", json_num(reply, "watchers"));
	format_size(buf, sizeof(buf), json_num(reply, "ring_size"));
	label("Ring size:");
	printf("%s", buf);
	/* An older greeterd's status lacks the fields below: shown only when present. */
	if (json_has_num(reply, "ring_used")) {
		format_size(buf, sizeof(buf), json_num(reply, "ring_used"));
		printf(", %s in use", buf);
	}
	fputc('\n', stdout);
	if (json_has_num(reply, "replay_window")) {
		label("Replay:");
		printf("%llu events kept, of a window of %llu\n", json_num(reply, "retained"),
		       json_num(reply, "replay_window"));
	}
	if (json_has_num(reply, "change_log_size")) {
		format_size(buf, sizeof(buf), json_num(reply, "change_log_size"));
		label("Change log:");
		printf("%s, %llu compactions (%llu failed)\n", buf,
		       json_num(counters, "compactions"), json_num(counters, "compactions_failed"));
	}

	label("Programs:");
	cJSON_ArrayForEach (p, progs) {
		if (!first)
			label("");
		first = false;
		print_escaped(stdout, json_str(p, "name"));
		printf(": program id %llu, link id %llu\n", json_num(p, "program_id"),
		       json_num(p, "link_id"));
	}
	if (first)
		fputs("none\n", stdout);
	label("Map ids:");
	printf("config %llu, events %llu, stats %llu\n", json_num(reply, "config_map_id"),
	       json_num(reply, "events_map_id"), json_num(reply, "stats_map_id"));

	label("Events:");
	printf("%llu emitted by the kernel, %llu received, %llu delivered to watchers\n",
	       json_num(counters, "emitted"), json_num(counters, "received"),
	       json_num(counters, "delivered"));
	if (json_has_num(reply, "process_table_size")) {
		label("Exits:");
		printf("%llu emitted by the kernel (among the events)\n", json_num(counters, "exits"));
		label("Processes:");
		printf("%llu in the process table, of %llu; %llu let go of for room\n",
		       json_num(counters, "processes"), json_num(reply, "process_table_size"),
		       json_num(counters, "processes_evicted"));
	}
	label("Lost:");
	printf("%llu in the kernel (ring buffer full), %llu dropped for slow watchers, "
	       "%llu not written to the journal, %llu not written by --print-events\n",
	       json_num(counters, "lost_kernel"), json_num(counters, "dropped_watchers"),
	       json_num(counters, "dropped_journal"), json_num(counters, "dropped_print"));
	if (json_num(counters, "malformed")) {
		label("Malformed:");
		printf("%llu ring buffer records of the wrong size, skipped\n",
		       json_num(counters, "malformed"));
	}
	if (json_num(counters, "repeated")) {
		label("Repeated:");
		printf("%llu handed on again after a kill (the journal may hold them twice)\n",
		       json_num(counters, "repeated"));
	}
	label("Failed execs:");
	printf("%llu\n", json_num(counters, "failed_execs"));
}
