// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * event_record: ring records of every layout decoded, hostile lengths
 * refused, arguments split and bounded; args_text: the quoting that keeps
 * the arguments apart in a line of text.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "args_text.h"
#include "event_record.h"

#define RECORD_MAX 4096

struct built {
	unsigned char data[RECORD_MAX];
	size_t size;
};

/* A v3 record from its strings; args holds args_len bytes (NULs inside). */
static void build(struct built *b, const char *comm, const char *msg, const char *unit,
		  const char *file, const char *args, size_t args_len, __u16 flags)
{
	struct greeter_record_v3 r;
	size_t off = sizeof(r);

	memset(&r, 0, sizeof(r));
	memset(b, 0xaa, sizeof(*b));
	r.seq = 42;
	r.boot_ns = 1000;
	r.cgroup_id = 7777;
	r.pid = 10;
	r.ppid = 9;
	r.uid = 1000;
	r.gid = 100;
	r.flags = flags;
	r.source = GREETER_SOURCE_DEFAULT;
	r.comm_len = (__u16)strlen(comm);
	r.message_len = (__u16)strlen(msg);
	r.unit_len = (__u16)strlen(unit);
	r.filename_len = (__u16)strlen(file);
	r.args_len = (__u16)args_len;
	memcpy(b->data + off, comm, r.comm_len);
	off += r.comm_len;
	memcpy(b->data + off, msg, r.message_len);
	off += r.message_len;
	memcpy(b->data + off, unit, r.unit_len);
	off += r.unit_len;
	memcpy(b->data + off, file, r.filename_len);
	off += r.filename_len;
	memcpy(b->data + off, args, args_len);
	off += args_len;
	memcpy(b->data, &r, sizeof(r));
	/* Rounded up to a size class, as the kernel does: the tail is garbage. */
	b->size = (off + 15) / 16 * 16;
}

static struct greeter_event ev;

static void test_v3_fields(void **state)
{
	struct built b;
	static const char args[] = "ls\0-l\0\0a b\0";
	const char *a;

	build(&b, "bash", "Hello", "nginx.service", "/bin/ls", args, sizeof(args) - 1,
	      GREETER_EVENT_ARGS);
	assert_int_equal(event_record_decode(b.data, b.size, 3, &ev), 0);
	assert_int_equal(ev.seq, 42);
	assert_int_equal(ev.cgroup_id, 7777);
	assert_int_equal(ev.pid, 10);
	assert_int_equal(ev.ppid, 9);
	assert_int_equal(ev.uid, 1000);
	assert_int_equal(ev.gid, 100);
	assert_int_equal(ev.source, GREETER_SOURCE_DEFAULT);
	assert_string_equal(ev.comm, "bash");
	assert_string_equal(ev.message, "Hello");
	assert_string_equal(ev.unit, "nginx.service");
	assert_string_equal(ev.filename, "/bin/ls");
	assert_int_equal(ev.args_count, 4);
	assert_false(ev.flags & GREETER_EVENT_ARGS_TRUNCATED);
	a = event_next_arg(&ev, NULL);
	assert_string_equal(a, "ls");
	a = event_next_arg(&ev, a);
	assert_string_equal(a, "-l");
	a = event_next_arg(&ev, a);
	assert_string_equal(a, "");
	a = event_next_arg(&ev, a);
	assert_string_equal(a, "a b");
	assert_null(event_next_arg(&ev, a));
}

static void test_v3_no_args(void **state)
{
	struct built b;

	/* Bytes there, but the flag says none were read: none. */
	build(&b, "sh", "Hi", "", "/bin/true", "x\0", 2, 0);
	assert_int_equal(event_record_decode(b.data, b.size, 3, &ev), 0);
	assert_false(ev.flags & GREETER_EVENT_ARGS);
	assert_int_equal(ev.args_count, 0);
	assert_null(event_next_arg(&ev, NULL));
	assert_string_equal(ev.unit, "");

	/* Read, and empty (argc 0). */
	build(&b, "sh", "Hi", "", "/bin/true", "", 0, GREETER_EVENT_ARGS);
	assert_int_equal(event_record_decode(b.data, b.size, 3, &ev), 0);
	assert_true(ev.flags & GREETER_EVENT_ARGS);
	assert_int_equal(ev.args_count, 0);
}

static void test_v3_cut_last_arg(void **state)
{
	struct built b;
	static const char args[] = "echo\0abc"; /* cut in the kernel: no NUL at the end */

	build(&b, "sh", "Hi", "u", "/bin/echo", args, sizeof(args) - 1,
	      GREETER_EVENT_ARGS | GREETER_EVENT_ARGS_TRUNCATED);
	assert_int_equal(event_record_decode(b.data, b.size, 3, &ev), 0);
	assert_int_equal(ev.args_count, 2);
	assert_string_equal(event_next_arg(&ev, event_next_arg(&ev, NULL)), "abc");
	assert_true(ev.flags & GREETER_EVENT_ARGS_TRUNCATED);
}

static void test_v3_count_bound(void **state)
{
	struct built b;
	char args[2 * (GREETER_ARGS_MAX + 10)];
	size_t n = 0;

	for (int i = 0; i < GREETER_ARGS_MAX + 10; i++) {
		args[n++] = 'a' + i % 26;
		args[n++] = '\0';
	}
	build(&b, "sh", "Hi", "u", "/bin/echo", args, n, GREETER_EVENT_ARGS);
	assert_int_equal(event_record_decode(b.data, b.size, 3, &ev), 0);
	assert_int_equal(ev.args_count, GREETER_ARGS_MAX);
	assert_true(ev.flags & GREETER_EVENT_ARGS_TRUNCATED);

	/* Exactly the bound: not cut. */
	build(&b, "sh", "Hi", "u", "/bin/echo", args, 2 * GREETER_ARGS_MAX, GREETER_EVENT_ARGS);
	assert_int_equal(event_record_decode(b.data, b.size, 3, &ev), 0);
	assert_int_equal(ev.args_count, GREETER_ARGS_MAX);
	assert_false(ev.flags & GREETER_EVENT_ARGS_TRUNCATED);
}

static void test_v3_hostile(void **state)
{
	struct built b;
	struct greeter_record_v3 r;
	char big[GREETER_ARGS_SIZE + 100];

	build(&b, "bash", "Hello", "unit", "/bin/ls", "ls\0", 3, GREETER_EVENT_ARGS);
	/* Shorter than the header. */
	assert_int_equal(event_record_decode(b.data, sizeof(r) - 1, 3, &ev), -EBADMSG);
	/* The strings run past the end by one byte. */
	assert_int_equal(event_record_decode(b.data, sizeof(r) + 4 + 5 + 4 + 7 + 2, 3, &ev),
			 -EBADMSG);
	assert_int_equal(event_record_decode(b.data, sizeof(r) + 4 + 5 + 4 + 7 + 3, 3, &ev), 0);
	/* Lengths that add up past 64 KiB, and each the maximum. */
	memcpy(&r, b.data, sizeof(r));
	r.comm_len = r.message_len = r.unit_len = r.filename_len = r.args_len = 0xffff;
	memcpy(b.data, &r, sizeof(r));
	assert_int_equal(event_record_decode(b.data, b.size, 3, &ev), -EBADMSG);

	/* Strings longer than their buffers (a kernel never writes them): cut. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	build(&b, "ccc", "m", "u", "f", "", 0, 0);
	memcpy(b.data + sizeof(r), big, 40);
	memcpy(&r, b.data, sizeof(r));
	r.comm_len = 40;
	r.message_len = r.unit_len = r.filename_len = 0;
	memcpy(b.data, &r, sizeof(r));
	assert_int_equal(event_record_decode(b.data, sizeof(r) + 40, 3, &ev), 0);
	assert_int_equal(strlen(ev.comm), GREETER_COMM_SIZE - 1);

	/* Argument bytes past the bound, none a NUL: cut, terminated. */
	build(&b, "c", "m", "u", "f", big, sizeof(big) - 1, GREETER_EVENT_ARGS);
	assert_int_equal(event_record_decode(b.data, b.size, 3, &ev), 0);
	assert_true(ev.flags & GREETER_EVENT_ARGS_TRUNCATED);
	assert_int_equal(ev.args_count, 1);
	assert_int_equal(strlen(ev.args), GREETER_ARGS_SIZE);

	/* A NUL inside a string ends it. */
	build(&b, "ab\0d", "m", "u", "f", "", 0, 0);
	memcpy(&r, b.data, sizeof(r));
	r.comm_len = 4;
	memcpy(b.data, &r, sizeof(r));
	memcpy(b.data + sizeof(r), "ab\0d", 4);
	memcpy(b.data + sizeof(r) + 4, "muf", 3);
	assert_int_equal(event_record_decode(b.data, sizeof(r) + 7, 3, &ev), 0);
	assert_string_equal(ev.comm, "ab");
	assert_string_equal(ev.message, "m");

	/* An ABI this build does not know. */
	assert_int_equal(event_record_decode(b.data, b.size, GREETER_ABI_VERSION + 1, &ev),
			 -EPROTO);
	assert_int_equal(event_record_decode(b.data, b.size, 0, &ev), -EPROTO);
}

/* A v4 record: an exec with its parent's strings, or (kind exit) an exit. */
static void build4(struct built *b, __u8 kind, const char *comm, const char *msg,
		   const char *unit, const char *file, const char *pcomm, const char *pfile,
		   const char *args, size_t args_len, __u16 flags)
{
	struct greeter_record r;
	const char *s[] = { comm, msg, unit, file, pcomm, pfile };
	__u16 *len[] = { &r.comm_len, &r.message_len, &r.unit_len, &r.filename_len,
			 &r.parent_comm_len, &r.parent_file_len };
	size_t off = sizeof(r);

	memset(&r, 0, sizeof(r));
	memset(b, 0xaa, sizeof(*b));
	r.seq = 43;
	r.boot_ns = 5000000000ULL;
	r.exec_ns = kind == GREETER_KIND_EXIT ? 3000000000ULL : r.boot_ns;
	r.parent_exec_ns = 1000;
	r.pid = 20;
	r.ppid = 19;
	r.parent_pid = 18;
	r.uid = 1000;
	r.kind = kind;
	r.exit_status = kind == GREETER_KIND_EXIT ? 7 << 8 : 0;
	r.flags = flags;
	for (size_t i = 0; i < 6; i++) {
		*len[i] = (__u16)strlen(s[i]);
		memcpy(b->data + off, s[i], *len[i]);
		off += *len[i];
	}
	r.args_len = (__u16)args_len;
	memcpy(b->data + off, args, args_len);
	off += args_len;
	memcpy(b->data, &r, sizeof(r));
	b->size = (off + 15) / 16 * 16;
}

static void test_v4_exec(void **state)
{
	struct built b;
	static const char args[] = "id\0-u\0";

	build4(&b, GREETER_KIND_EXEC, "sh", "Hi", "u.service", "/usr/bin/id", "bash",
	       "/usr/bin/bash", args, sizeof(args) - 1, GREETER_EVENT_ARGS);
	assert_int_equal(event_record_decode(b.data, b.size, 4, &ev), 0);
	assert_int_equal(ev.kind, GREETER_KIND_EXEC);
	assert_int_equal(ev.exec_ns, 5000000000ULL);
	assert_int_equal(ev.parent_exec_ns, 1000);
	assert_int_equal(ev.parent_pid, 18);
	assert_string_equal(ev.comm, "sh");
	assert_string_equal(ev.message, "Hi");
	assert_string_equal(ev.unit, "u.service");
	assert_string_equal(ev.filename, "/usr/bin/id");
	assert_string_equal(ev.parent_comm, "bash");
	assert_string_equal(ev.parent_file, "/usr/bin/bash");
	assert_int_equal(ev.args_count, 2);
	assert_string_equal(event_next_arg(&ev, event_next_arg(&ev, NULL)), "-u");
}

static void test_v4_exit(void **state)
{
	struct built b;
	struct greeter_record r;

	build4(&b, GREETER_KIND_EXIT, "sleep", "", "u", "/usr/bin/sleep", "", "", "", 0, 0);
	assert_int_equal(event_record_decode(b.data, b.size, 4, &ev), 0);
	assert_int_equal(ev.kind, GREETER_KIND_EXIT);
	assert_int_equal(ev.exec_ns, 3000000000ULL);
	assert_int_equal(ev.exit_status, 7 << 8);
	assert_string_equal(ev.comm, "sleep");
	assert_string_equal(ev.parent_comm, "");
	assert_int_equal(ev.args_count, 0);

	/* A kind this build does not know, and parent strings past the end. */
	memcpy(&r, b.data, sizeof(r));
	r.kind = 2;
	memcpy(b.data, &r, sizeof(r));
	assert_int_equal(event_record_decode(b.data, b.size, 4, &ev), -EBADMSG);
	r.kind = GREETER_KIND_EXIT;
	r.parent_file_len = 0xffff;
	memcpy(b.data, &r, sizeof(r));
	assert_int_equal(event_record_decode(b.data, b.size, 4, &ev), -EBADMSG);

	/* Records of ABI 3 have exec ids too: their time and pid. */
	build(&b, "sh", "Hi", "", "/bin/true", "", 0, 0);
	assert_int_equal(event_record_decode(b.data, b.size, 3, &ev), 0);
	assert_int_equal(ev.kind, GREETER_KIND_EXEC);
	assert_int_equal(ev.exec_ns, 1000);
	assert_int_equal(ev.parent_exec_ns, 0);
}

static void test_v2(void **state)
{
	struct greeter_event_v2 r;
	unsigned char data[sizeof(r) + 8];

	memset(&r, 0, sizeof(r));
	r.seq = 5;
	r.pid = 3;
	r.uid = 1001;
	r.flags = GREETER_EVENT_FAILED | GREETER_EVENT_ARGS; /* a bit it never wrote: ignored */
	r.error = -2;
	memcpy(r.comm, "bash", 4);
	memset(r.filename, 'f', sizeof(r.filename)); /* no NUL: cut */
	memcpy(r.message, "Hi", 2);
	memcpy(data, &r, sizeof(r));
	assert_int_equal(sizeof(r), 376);
	assert_int_equal(event_record_decode(data, sizeof(r) - 1, 2, &ev), -EBADMSG);
	/* ABI 1 wrote the same layout. */
	assert_int_equal(event_record_decode(data, sizeof(data), 1, &ev), 0);
	assert_int_equal(event_record_decode(data, sizeof(r), 2, &ev), 0);
	assert_int_equal(ev.seq, 5);
	assert_int_equal(ev.uid, 1001);
	assert_int_equal(ev.error, -2);
	assert_int_equal(ev.flags, GREETER_EVENT_FAILED);
	assert_int_equal(ev.cgroup_id, 0);
	assert_string_equal(ev.comm, "bash");
	assert_string_equal(ev.message, "Hi");
	assert_string_equal(ev.unit, "");
	assert_int_equal(strlen(ev.filename), GREETER_FILENAME_SIZE - 1);
	assert_int_equal(ev.args_count, 0);
}

/* args_text of the arguments given as a NUL-separated list. */
static void expect_text(const char *args, size_t len, size_t count, const char *want)
{
	char out[256];

	(void)len;
	greeter_args_text(out, sizeof(out), args, count);
	assert_string_equal(out, want);
}

static void test_args_text(void **state)
{
	char out[16];

	expect_text("ls\0-l\0", 6, 2, "ls -l");
	expect_text("a b\0\0c\0", 7, 3, "\"a b\" \"\" c");
	expect_text("say\0\"hi\"\0", 9, 2, "say \"\\\"hi\\\"\"");
	expect_text("tab\there\0", 9, 1, "tab\\there");
	expect_text("back\\slash\0", 11, 1, "back\\\\slash");
	expect_text("\xff\x01\0", 3, 1, "\\xff\\x01");
	expect_text("", 0, 0, "");
	expect_text("\0", 1, 1, "\"\"");
	/* A space that does not look like one (U+00A0, U+2009) is quoted: "a\u00a0b" is one argument. */
	expect_text("a\xc2\xa0" "b\0c\0", 6, 2, "\"a\xc2\xa0" "b\" c");
	expect_text("x\xe2\x80\x89y\0", 6, 1, "\"x\xe2\x80\x89y\"");
	/* Cut before the argument that does not fit whole. */
	assert_int_equal(greeter_args_text(out, sizeof(out), "abc\0defghijklmnop\0", 2), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(greeter_args_text(out, 0, "abc\0", 1), 0);
	assert_int_equal(greeter_args_text(out, 1, "abc\0", 1), 0);
	assert_string_equal(out, "");
}

/* The bound holds: GREETER_ARGS_TEXT_SIZE never cuts, whatever the bytes. */
static void test_args_text_bound(void **state)
{
	static char args[GREETER_ARGS_SIZE];
	static char out[GREETER_ARGS_TEXT_SIZE(GREETER_ARGS_SIZE)];
	size_t count = 0, n;

	/* The worst: one-byte arguments that escape to 4 bytes each, quoted ones too. */
	for (size_t i = 0; i + 1 < sizeof(args); i += 2, count++) {
		args[i] = i % 4 ? '\x01' : '"';
		args[i + 1] = '\0';
	}
	n = greeter_args_text(out, sizeof(out), args, count);
	/* Every argument is there: each 4 bytes ("\"" or \x01), a space between. */
	assert_int_equal(n, 4 * count + count - 1);
	memset(args, '\0', sizeof(args));
	n = greeter_args_text(out, sizeof(out), args, sizeof(args));
	assert_int_equal(n, 3 * sizeof(args) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v3_fields),	cmocka_unit_test(test_v3_no_args),
		cmocka_unit_test(test_v3_cut_last_arg), cmocka_unit_test(test_v3_count_bound),
		cmocka_unit_test(test_v3_hostile),	cmocka_unit_test(test_v4_exec),
		cmocka_unit_test(test_v4_exit),		cmocka_unit_test(test_v2),
		cmocka_unit_test(test_args_text),	cmocka_unit_test(test_args_text_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
