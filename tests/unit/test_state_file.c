// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "entries.h"
#include "state_file.h"

#define LIT(s) (s), (sizeof(s) - 1)

struct fixture {
	char dir[PATH_MAX];
	char file[PATH_MAX + 32];
	char err[1024];
};

static int setup(void **state)
{
	const char *tmpdir = getenv("TMPDIR");
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (!tmpdir || !*tmpdir)
		tmpdir = "/tmp";
	snprintf(f->dir, sizeof(f->dir), "%s/greeter-unit-XXXXXX", tmpdir);
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->file, sizeof(f->file), "%s/messages.json", f->dir);
	*state = f;
	return 0;
}

/* Remove the (flat) test directory; a subdirectory made by a test is empty. */
static int teardown(void **state)
{
	struct fixture *f = *state;
	struct dirent *de;
	DIR *d = opendir(f->dir);

	if (d) {
		while ((de = readdir(d))) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) < 0)
				unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "we");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* The file's contents, NUL-terminated; *len its size. */
static char *read_file(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	FILE *fp = fopen(path, "re");

	assert_non_null(fp);
	assert_int_equal(fstat(fileno(fp), &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)st.st_size, fp), (size_t)st.st_size);
	buf[st.st_size] = '\0';
	fclose(fp);
	if (len)
		*len = (size_t)st.st_size;
	return buf;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Names in the test directory other than . and .., sorted, ';'-joined. */
static void list_dir(const char *dir, char *out, size_t size)
{
	struct dirent **names;
	int n, i;
	size_t len = 0;

	n = scandir(dir, &names, NULL, alphasort);
	assert_true(n >= 0);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0)
			len += (size_t)snprintf(out + len, size - len, "%s;", names[i]->d_name);
		free(names[i]);
	}
	free(names);
}

static size_t count_prefix(const char *dir, const char *prefix)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void assert_entries_equal(const struct greeter_entries *a, const struct greeter_entries *b)
{
	size_t i;

	assert_int_equal(a->count, b->count);
	for (i = 0; i < a->count; i++) {
		assert_int_equal(a->items[i].uid, b->items[i].uid);
		assert_string_equal(a->items[i].text, b->items[i].text);
	}
}

/* ---- entries ---- */

static void test_entries(void **state)
{
	struct greeter_entries list = { 0 };
	const struct greeter_entry *e;
	char long_text[GREETER_MESSAGE_SIZE + 1];
	char unterminated[GREETER_MESSAGE_SIZE];

	assert_null(greeter_entries_find(&list, 1));
	assert_int_equal(greeter_entries_remove(&list, 1), -ENOENT);

	assert_int_equal(greeter_entries_add(&list, GREETER_DEFAULT_UID, "Hello all"), 0);
	assert_int_equal(greeter_entries_add(&list, 1000, "Hi 1000"), 0);
	assert_int_equal(greeter_entries_add(&list, 0, "Hi root"), 0);
	assert_int_equal(greeter_entries_add(&list, 501, "Hi 501"), 0);
	assert_int_equal(list.count, 4);
	/* Sorted, the default last. */
	assert_int_equal(list.items[0].uid, 0);
	assert_int_equal(list.items[1].uid, 501);
	assert_int_equal(list.items[2].uid, 1000);
	assert_int_equal(list.items[3].uid, GREETER_DEFAULT_UID);

	/* Replace keeps one entry, zero-padded. */
	assert_int_equal(greeter_entries_add(&list, 501, "Yo"), 0);
	assert_int_equal(list.count, 4);
	e = greeter_entries_find(&list, 501);
	assert_non_null(e);
	assert_string_equal(e->text, "Yo");
	assert_int_equal(e->text[3], 0);
	assert_int_equal(e->text[GREETER_MESSAGE_SIZE - 1], 0);
	/* text may be an entry of the list itself. */
	assert_int_equal(greeter_entries_add(&list, 7, list.items[0].text), 0);
	assert_string_equal(greeter_entries_find(&list, 7)->text, "Hi root");

	/* Invalid messages are refused and change nothing. */
	assert_int_equal(greeter_entries_add(&list, 501, ""), -EINVAL);
	assert_int_equal(greeter_entries_add(&list, 501, "\x1b[2J"), -EINVAL);
	assert_int_equal(greeter_entries_add(&list, 501, "\xc0\xaf"), -EINVAL);
	memset(long_text, 'a', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	assert_int_equal(greeter_entries_add(&list, 501, long_text), -E2BIG);
	memset(unterminated, 'b', sizeof(unterminated));
	assert_int_equal(greeter_entries_add(&list, 501, unterminated), -E2BIG);
	long_text[GREETER_MESSAGE_MAX] = '\0';
	assert_int_equal(greeter_entries_add(&list, 502, long_text), 0);
	assert_string_equal(greeter_entries_find(&list, 501)->text, "Yo");
	assert_int_equal(list.count, 6);

	assert_int_equal(greeter_entries_remove(&list, 501), 0);
	assert_null(greeter_entries_find(&list, 501));
	assert_int_equal(greeter_entries_remove(&list, 501), -ENOENT);
	assert_int_equal(greeter_entries_remove(&list, GREETER_DEFAULT_UID), 0);
	assert_int_equal(list.count, 4);
	assert_int_equal(list.items[3].uid, 1000);

	greeter_entries_free(&list);
	assert_null(list.items);
	assert_int_equal(list.count, 0);
	greeter_entries_free(&list);
}

static void test_entries_full(void **state)
{
	struct greeter_entries list = { 0 };
	uint32_t uid;

	/* Descending, to exercise insertion in front. */
	for (uid = GREETER_MAX_MESSAGES; uid > 0; uid--)
		assert_int_equal(greeter_entries_add(&list, uid, "x"), 0);
	assert_int_equal(list.count, GREETER_MAX_MESSAGES);
	assert_int_equal(list.items[0].uid, 1);
	assert_int_equal(greeter_entries_add(&list, 0, "x"), -ENOSPC);
	assert_int_equal(greeter_entries_add(&list, GREETER_DEFAULT_UID, "x"), -ENOSPC);
	/* Replacing still works when full. */
	assert_int_equal(greeter_entries_add(&list, 5, "y"), 0);
	assert_int_equal(greeter_entries_remove(&list, 5), 0);
	assert_int_equal(greeter_entries_add(&list, 0, "x"), 0);
	greeter_entries_free(&list);
}

/* ---- save and load ---- */

/* Saves in: only messages.json is left (the replace is atomic, no
 * temporary file behind), and loading it gives in back. */
static void save_and_load(struct fixture *f, const struct greeter_entries *in)
{
	struct greeter_entries out = { 0 };
	char names[256];

	assert_int_equal(state_file_save(f->dir, in, f->err, sizeof(f->err)), 0);
	list_dir(f->dir, names, sizeof(names));
	assert_string_equal(names, "messages.json;");
	assert_int_equal(state_file_load(f->dir, &out, f->err, sizeof(f->err)), 0);
	assert_entries_equal(in, &out);
	greeter_entries_free(&out);
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct greeter_entries in = { 0 };

	assert_int_equal(greeter_entries_add(&in, GREETER_DEFAULT_UID, "Hello all"), 0);
	assert_int_equal(greeter_entries_add(&in, 4294967294u, "max"), 0);
	assert_int_equal(greeter_entries_add(&in, 501, "Hi user 501!"), 0);
	assert_int_equal(greeter_entries_add(&in, 0, "say \"hi\" \\o/ h\xc3\xa9 \xf0\x9f\x98\x80"),
			 0);
	save_and_load(f, &in);

	/* Save again over the existing file: replaced, still no tmp. */
	assert_int_equal(greeter_entries_remove(&in, 501), 0);
	save_and_load(f, &in);

	greeter_entries_free(&in);
}

static void test_stable_format(void **state)
{
	struct fixture *f = *state;
	struct greeter_entries in = { 0 };
	struct greeter_entry unsorted[3] = {
		{ .uid = GREETER_DEFAULT_UID, .text = "Hello all" },
		{ .uid = 1000, .text = "b" },
		{ .uid = 501, .text = "a" },
	};
	struct greeter_entries raw = { .items = unsorted, .count = 3, .capacity = 3 };
	static const char expected[] = "{\n"
				       "\t\"version\":\t1,\n"
				       "\t\"messages\":\t{\n"
				       "\t\t\"501\":\t\"a\",\n"
				       "\t\t\"1000\":\t\"b\",\n"
				       "\t\t\"default\":\t\"Hello all\"\n"
				       "\t}\n"
				       "}\n";
	char *text;
	size_t len;

	/* Keys by UID, "default" last, whatever the order in memory. */
	assert_int_equal(state_file_save(f->dir, &raw, f->err, sizeof(f->err)), 0);
	text = read_file(f->file, &len);
	assert_string_equal(text, expected);
	free(text);

	assert_int_equal(greeter_entries_add(&in, 1000, "b"), 0);
	assert_int_equal(greeter_entries_add(&in, GREETER_DEFAULT_UID, "Hello all"), 0);
	assert_int_equal(greeter_entries_add(&in, 501, "a"), 0);
	assert_int_equal(messages_json_format(&in, &text, &len, f->err, sizeof(f->err)), 0);
	assert_string_equal(text, expected);
	assert_int_equal(len, strlen(expected));
	free(text);
	greeter_entries_free(&in);

	/* Nothing to save is an empty object. */
	assert_int_equal(messages_json_format(NULL, &text, &len, f->err, sizeof(f->err)), 0);
	assert_string_equal(text, "{\n\t\"version\":\t1,\n\t\"messages\":\t{\n\t}\n}\n");
	free(text);
}

static void test_save_refuses_invalid(void **state)
{
	struct fixture *f = *state;
	struct greeter_entry bad[2] = {
		{ .uid = 1, .text = "ok" },
		{ .uid = 2, .text = "\x1b[2J" },
	};
	struct greeter_entries raw = { .items = bad, .count = 2, .capacity = 2 };
	char names[256];

	assert_int_equal(state_file_save(f->dir, &raw, f->err, sizeof(f->err)), -EINVAL);
	assert_string_equal(f->err, "\"2\": message contains a control character");
	/* Unterminated text. */
	memset(bad[1].text, 'a', sizeof(bad[1].text));
	assert_int_equal(state_file_save(f->dir, &raw, f->err, sizeof(f->err)), -EINVAL);
	assert_string_equal(f->err, "\"2\": message is longer than 63 bytes");
	/* Duplicated UID. */
	strcpy(bad[1].text, "fine");
	bad[1].uid = 1;
	assert_int_equal(state_file_save(f->dir, &raw, f->err, sizeof(f->err)), -EINVAL);
	assert_string_equal(f->err, "\"1\" appears twice");

	list_dir(f->dir, names, sizeof(names));
	assert_string_equal(names, "");
}

static void test_load_missing(void **state)
{
	struct fixture *f = *state;
	struct greeter_entries out = { 0 };
	char missing_dir[PATH_MAX + 16];

	assert_int_equal(state_file_load(f->dir, &out, f->err, sizeof(f->err)), 1);
	assert_int_equal(out.count, 0);
	assert_null(out.items);

	/* No state directory yet: nothing saved yet either. */
	snprintf(missing_dir, sizeof(missing_dir), "%s/nope", f->dir);
	assert_int_equal(state_file_load(missing_dir, &out, f->err, sizeof(f->err)), 1);
	assert_int_equal(out.count, 0);
}

static void test_save_failures(void **state)
{
	struct fixture *f = *state;
	struct greeter_entries in = { 0 }, out = { 0 };
	char path[PATH_MAX + 32], expected[PATH_MAX + 128], names[256];
	char *before, *after;

	assert_int_equal(greeter_entries_add(&in, 501, "Hi"), 0);

	/* state_dir does not exist. */
	snprintf(path, sizeof(path), "%s/nope", f->dir);
	assert_int_equal(state_file_save(path, &in, f->err, sizeof(f->err)), -ENOENT);
	snprintf(expected, sizeof(expected),
		 "creating %s/messages.json.tmp: No such file or directory", path);
	assert_string_equal(f->err, expected);
	assert_false(exists(path));

	/* state_dir is a regular file (root ignores permission bits, not this). */
	snprintf(path, sizeof(path), "%s/plain", f->dir);
	write_file(path, LIT("x"));
	assert_int_equal(state_file_save(path, &in, f->err, sizeof(f->err)), -ENOTDIR);
	assert_non_null(strstr(f->err, "Not a directory"));
	assert_int_equal(state_file_load(path, &out, f->err, sizeof(f->err)), -ENOTDIR);
	assert_int_equal(out.count, 0);
	assert_int_equal(unlink(path), 0);

	/* The tmp file cannot be created: the old file is kept as it was. */
	assert_int_equal(state_file_save(f->dir, &in, f->err, sizeof(f->err)), 0);
	before = read_file(f->file, NULL);
	snprintf(path, sizeof(path), "%s/messages.json.tmp", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(greeter_entries_add(&in, 502, "Other"), 0);
	assert_int_equal(state_file_save(f->dir, &in, f->err, sizeof(f->err)), -EISDIR);
	after = read_file(f->file, NULL);
	assert_string_equal(before, after);
	list_dir(f->dir, names, sizeof(names));
	assert_string_equal(names, "messages.json;messages.json.tmp;");
	assert_int_equal(rmdir(path), 0);

	/* A symlink planted as the tmp file is not followed. */
	snprintf(expected, sizeof(expected), "%s/target", f->dir);
	assert_int_equal(symlink(expected, path), 0);
	assert_int_equal(state_file_save(f->dir, &in, f->err, sizeof(f->err)), -ELOOP);
	assert_false(exists(expected));
	assert_int_equal(unlink(path), 0);

	/* A path too long for the OS. */
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(state_file_save(path, &in, f->err, sizeof(f->err)), -ENAMETOOLONG);
	assert_int_equal(state_file_load(path, &out, f->err, sizeof(f->err)), -ENAMETOOLONG);

	free(before);
	free(after);
	greeter_entries_free(&in);
}

static void test_load_not_regular(void **state)
{
	struct fixture *f = *state;
	struct greeter_entries out = { 0 };
	char names[256];

	assert_int_equal(mkdir(f->file, 0700), 0);
	assert_int_equal(state_file_load(f->dir, &out, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "not a regular file"));
	assert_int_equal(rmdir(f->file), 0);

	/* A FIFO must not block the load. */
	assert_int_equal(mkfifo(f->file, 0600), 0);
	assert_int_equal(state_file_load(f->dir, &out, f->err, sizeof(f->err)), -EINVAL);
	list_dir(f->dir, names, sizeof(names));
	assert_string_equal(names, "messages.json;");
}

/* Load data as messages.json: -EBADMSG, out empty, the file moved aside
 * intact, err mentioning reason and the new name. */
static void check_corrupt(struct fixture *f, const char *data, size_t len, const char *reason)
{
	struct greeter_entries out = { 0 };
	char aside[PATH_MAX + 64], *moved;
	const char *at;
	size_t moved_len;

	write_file(f->file, data, len);
	assert_int_equal(state_file_load(f->dir, &out, f->err, sizeof(f->err)), -EBADMSG);
	assert_int_equal(out.count, 0);
	assert_null(out.items);
	assert_false(exists(f->file));
	assert_int_equal(count_prefix(f->dir, "messages.json.corrupt-"), 1);

	if (!strstr(f->err, reason))
		fail_msg("\"%s\" does not say \"%s\"", f->err, reason);
	at = strstr(f->err, "; moved it to ");
	assert_non_null(at);
	snprintf(aside, sizeof(aside), "%s", at + strlen("; moved it to "));
	/* <dir>/messages.json.corrupt-YYYYmmddTHHMMSS */
	assert_int_equal(strlen(aside), strlen(f->file) + strlen(".corrupt-") + 15);
	assert_int_equal(aside[strlen(f->file) + strlen(".corrupt-") + 8], 'T');
	moved = read_file(aside, &moved_len);
	assert_int_equal(moved_len, len);
	assert_memory_equal(moved, data, len);
	free(moved);
	assert_int_equal(unlink(aside), 0);
}

static void test_load_corrupt(void **state)
{
	struct fixture *f = *state;
	struct greeter_entries out = { 0 };

	check_corrupt(f, LIT("garbage"), "not valid JSON");
	check_corrupt(f, LIT(""), "empty file");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"501\":\"Hi"), "not valid JSON");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"501\":\"Hi\"}"), "not valid JSON");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{}} x"), "after the JSON value");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{}}{}"), "after the JSON value");
	check_corrupt(f, LIT("[]"), "not an object");
	check_corrupt(f, LIT("{\"version\":2,\"messages\":{}}"), "unsupported version 2");
	check_corrupt(f, LIT("{\"version\":1.5,\"messages\":{}}"), "unsupported version");
	check_corrupt(f, LIT("{\"version\":\"1\",\"messages\":{}}"), "not a number");
	check_corrupt(f, LIT("{\"messages\":{}}"), "no \"version\"");
	check_corrupt(f, LIT("{\"version\":1}"), "no \"messages\"");
	check_corrupt(f, LIT("{\"version\":1,\"version\":1,\"messages\":{}}"), "appears twice");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":[]}"), "not an object");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"501\":5}}"), "not a string");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"501\":null}}"), "not a string");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"abc\":\"x\"}}"),
		      "\"abc\" is neither a UID");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"-1\":\"x\"}}"), "neither a UID");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"\":\"x\"}}"), "neither a UID");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"4294967295\":\"x\"}}"),
		      "out of range");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"501\":\"\\u001b[31m\"}}"),
		      "\"501\": message contains a control character");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"501\":\"\\u0085\"}}"),
		      "control character");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"501\":\"\"}}"), "message is empty");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"501\":\"\xc0\xaf\"}}"),
		      "not valid UTF-8");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"501\":\"\\ud800\"}}"),
		      "not valid JSON");
	check_corrupt(f,
		      LIT("{\"version\":1,\"messages\":{\"501\":"
			  "\"0123456789012345678901234567890123456789012345678901234567890123\"}}"),
		      "longer than 63 bytes");
	/* A NUL would cut the message short without these checks. */
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"501\":\"Hi\\u0000\\u001b\"}}"),
		      "\\u0000 at byte");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"501\":\"Hi\0\x1b\"}}"), "NUL byte");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"501\":\"a\tb\"}}"),
		      "control character in a string");
	check_corrupt(f, LIT("\x01{\"version\":1,\"messages\":{}}"), "control character at byte 0");
	/* The same UID twice, even spelt differently. */
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"501\":\"a\",\"501\":\"b\"}}"),
		      "UID 501 appears twice");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"501\":\"a\",\"0501\":\"b\"}}"),
		      "UID 501 appears twice");
	check_corrupt(f, LIT("{\"version\":1,\"messages\":{\"default\":\"a\",\"default\":\"b\"}}"),
		      "\"default\" appears twice");
	/* All or nothing: valid entries around a bad one are not loaded. */
	check_corrupt(
		f,
		LIT("{\"version\":1,\"messages\":{\"1\":\"ok\",\"2\":\"\\u0007\",\"3\":\"ok\"}}"),
		"\"2\": message contains a control character");

	/* Unknown top-level members are ignored. */
	write_file(f->file, LIT("{\"version\":1,\"later\":[1,2],\"messages\":{\"501\":\"a\"}}"));
	assert_int_equal(state_file_load(f->dir, &out, f->err, sizeof(f->err)), 0);
	assert_int_equal(out.count, 1);
	assert_string_equal(greeter_entries_find(&out, 501)->text, "a");
	greeter_entries_free(&out);
	/* Leading zeros and JSON escapes are fine. */
	write_file(f->file,
		   LIT(" {\"version\":1.0,\"messages\":{\"0501\":\"\\u00e9\\\"\\\\\"}}\n"));
	assert_int_equal(state_file_load(f->dir, &out, f->err, sizeof(f->err)), 0);
	assert_string_equal(greeter_entries_find(&out, 501)->text, "\xc3\xa9\"\\");
	greeter_entries_free(&out);
}

static void test_hostile_key_escaped(void **state)
{
	struct fixture *f = *state;
	static const char data[] = "{\"version\":1,\"messages\":{\"\\u001b[2J\\u009b"
				   "0123456789012345678901234567890123456789\":\"x\"}}";
	struct greeter_entries out = { 0 };
	const char *p;

	assert_int_equal(messages_json_parse(LIT(data), &out, f->err, sizeof(f->err)), -EBADMSG);
	assert_int_equal(out.count, 0);
	/* Escaped, and cut short. */
	assert_string_equal(f->err,
			    "\"\\x1b[2J\\u009b012345678901234567...\" is neither a UID nor "
			    "\"default\"");
	for (p = f->err; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

static void test_too_large(void **state)
{
	struct fixture *f = *state;
	size_t len = MESSAGES_JSON_MAX_SIZE + 1;
	char *data = malloc(len);
	static const char head[] = "{\"version\":1,\"messages\":{}}";

	/* Valid JSON padded with whitespace: only the size is wrong. */
	assert_non_null(data);
	memset(data, ' ', len);
	memcpy(data, head, sizeof(head) - 1);
	check_corrupt(f, data, len, "larger than 4194304 bytes");

	/* Exactly the limit is fine. */
	write_file(f->file, data, len - 1);
	assert_int_equal(state_file_load(f->dir, NULL, f->err, sizeof(f->err)), -EINVAL);
	{
		struct greeter_entries out = { 0 };

		assert_int_equal(state_file_load(f->dir, &out, f->err, sizeof(f->err)), 0);
		assert_int_equal(out.count, 0);
	}
	free(data);
}

static void test_too_many(void **state)
{
	struct fixture *f = *state;
	struct greeter_entries in = { 0 }, out = { 0 };
	char text[GREETER_MESSAGE_SIZE];
	size_t len, cap, n;
	uint32_t uid;
	char *data;

	/* The largest possible file: every UID long, every byte escaped. */
	memset(text, '"', GREETER_MESSAGE_MAX);
	text[GREETER_MESSAGE_MAX] = '\0';
	for (uid = 0; uid < GREETER_MAX_MESSAGES - 1; uid++)
		assert_int_equal(greeter_entries_add(&in, 4000000000u + uid, text), 0);
	assert_int_equal(greeter_entries_add(&in, GREETER_DEFAULT_UID, text), 0);
	assert_int_equal(state_file_save(f->dir, &in, f->err, sizeof(f->err)), 0);
	assert_int_equal(state_file_load(f->dir, &out, f->err, sizeof(f->err)), 0);
	assert_entries_equal(&in, &out);
	greeter_entries_free(&out);
	greeter_entries_free(&in);
	data = read_file(f->file, &len);
	assert_true(len < MESSAGES_JSON_MAX_SIZE);
	free(data);

	/* One more message than allowed: 16385 short members. */
	cap = 64 + (GREETER_MAX_MESSAGES + 1) * 16;
	data = malloc(cap);
	assert_non_null(data);
	n = (size_t)snprintf(data, cap, "{\"version\":1,\"messages\":{");
	for (uid = 0; uid <= GREETER_MAX_MESSAGES; uid++)
		n += (size_t)snprintf(data + n, cap - n, "%s\"%" PRIu32 "\":\"x\"", uid ? "," : "",
				      uid);
	n += (size_t)snprintf(data + n, cap - n, "}}");
	check_corrupt(f, data, n, "more than 16384 messages");

	/* Many small values elsewhere are refused before cJSON sees them. */
	n = (size_t)snprintf(data, cap, "{\"version\":1,\"messages\":{},\"x\":[0");
	while (n < cap - 8)
		n += (size_t)snprintf(data + n, cap - n, ",0");
	n += (size_t)snprintf(data + n, cap - n, "]}");
	check_corrupt(f, data, n, "more than 16448 values");
	free(data);
}

static void test_corrupt_twice_same_second(void **state)
{
	struct fixture *f = *state;
	struct greeter_entries out = { 0 };
	int i;

	/* Each corrupt file is kept, none overwritten by the next. */
	for (i = 0; i < 3; i++) {
		write_file(f->file, LIT("nope"));
		assert_int_equal(state_file_load(f->dir, &out, f->err, sizeof(f->err)), -EBADMSG);
	}
	assert_int_equal(count_prefix(f->dir, "messages.json.corrupt-"), 3);
	assert_false(exists(f->file));
}

static void test_parse_direct(void **state)
{
	struct fixture *f = *state;
	struct greeter_entries out = { 0 };

	assert_int_equal(messages_json_parse(LIT("{\"version\":1,\"messages\":{\"default\":\"Hello "
					      "all\",\"501\":\"Hi user 501!\"}}"),
					  &out, f->err, sizeof(f->err)),
			 0);
	assert_int_equal(out.count, 2);
	assert_int_equal(out.items[0].uid, 501);
	assert_string_equal(out.items[0].text, "Hi user 501!");
	assert_int_equal(out.items[1].uid, GREETER_DEFAULT_UID);
	assert_string_equal(out.items[1].text, "Hello all");
	/* out must be empty on entry. */
	assert_int_equal(messages_json_parse(LIT("{}"), &out, f->err, sizeof(f->err)), -EINVAL);
	greeter_entries_free(&out);

	/* No NUL terminator needed: parsing stops at len. */
	assert_int_equal(messages_json_parse("{\"version\":1,\"messages\":{}}garbage", 27, &out,
					  f->err, sizeof(f->err)),
			 0);
	/* err may be NULL or tiny. */
	assert_int_equal(messages_json_parse(LIT("x"), &out, NULL, 0), -EBADMSG);
	assert_int_equal(messages_json_parse(LIT("x"), &out, f->err, 4), -EBADMSG);
	assert_string_equal(f->err, "not");
	assert_int_equal(messages_json_parse(NULL, 0, &out, f->err, sizeof(f->err)), -EBADMSG);
	/* Deeply nested input is refused, not a stack overflow. */
	{
		static char deep[100000];

		memset(deep, '[', sizeof(deep));
		assert_int_equal(messages_json_parse(deep, sizeof(deep), &out, f->err, sizeof(f->err)),
				 -EBADMSG);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entries),
		cmocka_unit_test(test_entries_full),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stable_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_refuses_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_not_regular, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_key_escaped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_twice_same_second, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_direct, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
