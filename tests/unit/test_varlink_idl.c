// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * varlink_idl_gen.py, varlink_idl_dispatch() and varlink_idl_build(): a
 * call checked against the IDL (names, types, optional) and read into the
 * method's struct; a reply's struct written as JSON. And a method added to
 * a copy of the IDL (io.test.added.varlink) served by a real varlink_server
 * over a socketpair: checked, dispatched and answered with nothing but its
 * lines in the IDL and its function here.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "io.test.copy.varlink.h"
#include "json_print.h"
#include "varlink_server.h"

/* Dispatch text as Mixed's parameters; *bad is "" unless one is named. */
static int mixed(const char *text, struct io_test_mixed_params *in, const char **bad, cJSON **p)
{
	*p = cJSON_Parse(text);
	assert_non_null(*p);
	*bad = "";
	return varlink_idl_dispatch(&io_test_mixed_idl.parameters, *p, in, bad);
}

static void expect_bad(const char *text, const char *name, int code)
{
	struct io_test_mixed_params in;
	const char *bad;
	cJSON *p;

	assert_int_equal(mixed(text, &in, &bad, &p), code);
	assert_string_equal(bad, name);
	cJSON_Delete(p);
}

static void test_names(void **state)
{
	assert_string_equal(IO_TEST_INTERFACE, "io.test");
	assert_string_equal(IO_TEST_MIXED, "io.test.Mixed");
	assert_string_equal(IO_TEST_ERROR_OOPS, "io.test.Oops");
	assert_string_equal(io_test_stream_idl.name, IO_TEST_STREAM);
	assert_true(io_test_stream_idl.requires_more);
	assert_false(io_test_mixed_idl.requires_more);
	/* The text served is the file's, comments included. */
	assert_non_null(strstr(io_test_description, "# [Requires 'more' flag]\nmethod Stream"));
}

static void test_filled(void **state)
{
	struct io_test_mixed_params in;
	const char *bad;
	cJSON *p;

	assert_int_equal(mixed("{\"i\":-5,\"oi\":9007199254740991,\"s\":\"x\",\"os\":\"y\","
			       "\"b\":false,\"f\":0.5,\"list\":[\"a\",\"\"],"
			       "\"things\":[{\"a\":1},7],\"thing\":{\"a\":2}}",
			       &in, &bad, &p),
			 0);
	assert_int_equal(in.i, -5);
	assert_true(in.has_oi);
	assert_int_equal(in.oi, 9007199254740991LL);
	assert_string_equal(in.s, "x");
	assert_string_equal(in.os, "y");
	assert_true(in.has_b);
	assert_false(in.b);
	assert_true(in.has_f);
	assert_true(in.f == 0.5);
	assert_int_equal(cJSON_GetArraySize(in.list), 2);
	/* Named types reach the method as JSON, its elements unchecked: it says which is wrong. */
	assert_int_equal(cJSON_GetArraySize(in.things), 2);
	assert_true(cJSON_IsObject(in.thing));
	cJSON_Delete(p);
}

static void test_optional(void **state)
{
	struct io_test_mixed_params in;
	const char *bad;
	cJSON *p;

	memset(&in, 0x55, sizeof(in));
	assert_int_equal(mixed("{\"i\":0,\"s\":\"\",\"oi\":null,\"os\":null,\"list\":null}", &in,
			       &bad, &p),
			 0);
	assert_false(in.has_oi);
	assert_null(in.os);
	assert_false(in.has_b);
	assert_null(in.list);
	assert_null(in.things);
	cJSON_Delete(p);
	/* No parameters at all: a method that takes none. */
	assert_int_equal(varlink_idl_dispatch(&io_test_nothing_idl.parameters, NULL, &in, &bad), 0);
}

static void test_refused(void **state)
{
	expect_bad("{\"s\":\"x\"}", "i", -EINVAL); /* missing */
	expect_bad("{\"i\":null,\"s\":\"x\"}", "i", -EINVAL); /* null where not ? */
	expect_bad("{\"i\":1.5,\"s\":\"x\"}", "i", -EINVAL);
	expect_bad("{\"i\":9007199254740992,\"s\":\"x\"}", "i", -EINVAL); /* past exact */
	expect_bad("{\"i\":1e999,\"s\":\"x\"}", "i", -EINVAL);
	expect_bad("{\"i\":\"1\",\"s\":\"x\"}", "i", -EINVAL);
	expect_bad("{\"i\":1,\"s\":1}", "s", -EINVAL);
	expect_bad("{\"i\":1,\"s\":\"x\",\"b\":1}", "b", -EINVAL);
	expect_bad("{\"i\":1,\"s\":\"x\",\"f\":\"0\"}", "f", -EINVAL);
	expect_bad("{\"i\":1,\"s\":\"x\",\"list\":\"a\"}", "list", -EINVAL);
	expect_bad("{\"i\":1,\"s\":\"x\",\"list\":[\"a\",1]}", "list", -EINVAL);
	expect_bad("{\"i\":1,\"s\":\"x\",\"things\":{}}", "things", -EINVAL);
	expect_bad("{\"i\":1,\"s\":\"x\",\"extra\":1}", "extra", -ENOENT); /* unknown */
	expect_bad("{\"i\":1,\"s\":\"x\",\"i\":2}", "i", -EEXIST); /* repeated */
}

/* The struct printed as JSON by its table, compared with want; frees it. */
static void expect_json(cJSON *j, const char *want)
{
	char *text;

	assert_non_null(j);
	text = greeter_json_print(j);
	assert_string_equal(text, want);
	free(text);
	cJSON_Delete(j);
}

static const char *const list[] = { "a", "" };
static const int64_t ints[] = { -1, 9007199254740991LL };
static const struct io_test_thing things[] = { { .a = 1 }, { .a = 2 } };

static void test_built(void **state)
{
	cJSON *o = cJSON_Parse("{\"x\":[1]}");
	struct io_test_everything_reply r = {
		.i = -5,
		.s = "x",
		.b = true,
		.f = 0.5,
		.list = list,
		.n_list = 2,
		.thing = { .a = 7 },
		.things = things,
		.n_things = 2,
		.ints = ints,
		.n_ints = 2,
		.o = o,
		.kind = "two",
	};

	/* In the IDL's order; absent optional fields left out; an empty array is []. */
	expect_json(io_test_everything_reply_json(&r),
		    "{\"i\":-5,\"s\":\"x\",\"b\":true,\"f\":0.5,\"list\":[\"a\",\"\"],"
		    "\"ints\":[-1,9007199254740991],\"thing\":{\"a\":7},"
		    "\"things\":[{\"a\":1},{\"a\":2}],\"o\":{\"x\":[1]},\"kind\":\"two\"}");
	r.has_oi = true;
	r.os = "";
	r.olist = list;
	r.n_olist = 0;
	r.othing = &things[1];
	r.oo = o;
	r.n_list = r.n_ints = r.n_things = 0;
	expect_json(io_test_everything_reply_json(&r),
		    "{\"i\":-5,\"oi\":0,\"s\":\"x\",\"os\":\"\",\"b\":true,\"f\":0.5,"
		    "\"list\":[],\"olist\":[],\"ints\":[],\"thing\":{\"a\":7},"
		    "\"othing\":{\"a\":2},\"things\":[],\"o\":{\"x\":[1]},"
		    "\"oo\":{\"x\":[1]},\"kind\":\"two\"}");
	/* A field the IDL requires is not left out: there is no reply. */
	r.s = NULL;
	assert_null(io_test_everything_reply_json(&r));
	r.s = "x";
	r.o = NULL;
	assert_null(io_test_everything_reply_json(&r));
	cJSON_Delete(o);
}

static void test_type_read(void **state)
{
	static const char *const bad_things[][2] = {
		{ "{}", "a" }, { "{\"a\":\"1\"}", "a" }, { "{\"a\":1,\"b\":2}", "b" },
	};
	struct io_test_thing t;
	const char *bad = "";
	cJSON *j = cJSON_Parse("{\"a\":3}");

	assert_int_equal(io_test_thing_read(j, &t, &bad), 0);
	assert_int_equal(t.a, 3);
	cJSON_Delete(j);
	j = cJSON_Parse("[]");
	assert_int_equal(io_test_thing_read(j, &t, &bad), -EINVAL);
	assert_null(bad);
	cJSON_Delete(j);
	for (size_t i = 0; i < sizeof(bad_things) / sizeof(bad_things[0]); i++) {
		j = cJSON_Parse(bad_things[i][0]);
		assert_true(io_test_thing_read(j, &t, &bad) < 0);
		assert_string_equal(bad, bad_things[i][1]);
		cJSON_Delete(j);
	}
}

/* io.test served by the IDL's method table: each method the function of its name. */

static void method_stream(struct varlink_call *c, const cJSON *p, void *userdata)
{
	const struct io_test_stream_params *in = varlink_call_parameters(c);
	struct io_test_stream_reply r = { .i = in->n };

	varlink_call_reply(c, io_test_stream_reply_json(&r), false);
}

static void method_mixed(struct varlink_call *c, const cJSON *p, void *userdata)
{
	varlink_call_reply(c, NULL, false);
}

static void method_nothing(struct varlink_call *c, const cJSON *p, void *userdata)
{
	varlink_call_reply(c, NULL, false);
}

static void method_everything(struct varlink_call *c, const cJSON *p, void *userdata)
{
	varlink_call_error(c, IO_TEST_ERROR_OOPS, NULL);
}

/* The added method: its parameters read as the IDL says, its reply written so. */
static void method_add(struct varlink_call *c, const cJSON *p, void *userdata)
{
	const struct io_test_add_params *in = varlink_call_parameters(c);
	int64_t parts[2] = { in->a, in->b };
	struct io_test_add_reply r = {
		.sum = { .total = in->a + in->b, .parts = parts, .n_parts = in->has_b ? 2 : 1 },
		.label = in->label,
	};

	varlink_call_reply(c, io_test_add_reply_json(&r), false);
}

static const struct varlink_method methods[] = { IO_TEST_METHODS(method_) };

/* call, sent to a server of io.test over a socketpair; its reply as text. */
static char *served(const char *call)
{
	struct varlink_server_options o = {
		.interface_name = IO_TEST_INTERFACE,
		.interface_description = io_test_description,
		.methods = methods,
		.n_methods = sizeof(methods) / sizeof(methods[0]),
	};
	struct varlink_peer peer = { .uid = 1000, .gid = 1000 };
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 30 * 1000 * 1000;
	struct varlink_server *srv;
	static char buf[65536];
	size_t len = 0;
	sd_event *loop;
	int sv[2];

	assert_int_equal(sd_event_new(&loop), 0);
	assert_int_equal(varlink_server_new(&srv, loop, &o), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(varlink_server_add_connection(srv, sv[1], &peer), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(write(sv[0], call, strlen(call) + 1), (ssize_t)strlen(call) + 1);
	while (!memchr(buf, '\0', len)) {
		ssize_t n;

		assert_true(now_usec(CLOCK_MONOTONIC) < deadline);
		sd_event_run(loop, 10 * 1000);
		n = read(sv[0], buf + len, sizeof(buf) - 1 - len);
		if (n > 0)
			len += (size_t)n;
	}
	close(sv[0]);
	varlink_server_free(srv);
	sd_event_unref(loop);
	return buf;
}

static void expect_served(const char *call, const char *reply)
{
	assert_string_equal(served(call), reply);
}

static void test_added_method(void **state)
{
	/* Dispatched, and answered from its reply struct. */
	expect_served(
		"{\"method\":\"io.test.Add\",\"parameters\":{\"a\":1,\"b\":2,\"label\":\"x\"}}",
		"{\"parameters\":{\"sum\":{\"total\":3,\"parts\":[1,2]},\"label\":\"x\"}}");
	expect_served("{\"method\":\"io.test.Add\",\"parameters\":{\"a\":1}}",
		      "{\"parameters\":{\"sum\":{\"total\":1,\"parts\":[1]}}}");
	/* Checked against the IDL before it runs. */
	expect_served("{\"method\":\"io.test.Add\",\"parameters\":{}}",
		      "{\"error\":\"org.varlink.service.InvalidParameter\","
		      "\"parameters\":{\"parameter\":\"a\"}}");
	expect_served("{\"method\":\"io.test.Add\",\"parameters\":{\"a\":\"1\"}}",
		      "{\"error\":\"org.varlink.service.InvalidParameter\","
		      "\"parameters\":{\"parameter\":\"a\"}}");
	expect_served("{\"method\":\"io.test.Add\",\"parameters\":{\"a\":1,\"b\":0.5}}",
		      "{\"error\":\"org.varlink.service.InvalidParameter\","
		      "\"parameters\":{\"parameter\":\"b\"}}");
	expect_served("{\"method\":\"io.test.Add\",\"parameters\":{\"a\":1,\"c\":1}}",
		      "{\"error\":\"org.varlink.service.InvalidParameter\","
		      "\"parameters\":{\"parameter\":\"c\"}}");
	/* The other methods as before; "more" as the IDL requires. */
	expect_served("{\"method\":\"io.test.Stream\",\"parameters\":{\"n\":4}}",
		      "{\"error\":\"org.varlink.service.ExpectedMore\",\"parameters\":{}}");
	expect_served("{\"method\":\"io.test.Stream\",\"parameters\":{\"n\":4},\"more\":true}",
		      "{\"parameters\":{\"i\":4}}");
	/* Described as it is declared, and listed. */
	assert_non_null(strstr(served("{\"method\":\"org.varlink.service.GetInterfaceDescription\","
				      "\"parameters\":{\"interface\":\"io.test\"}}"),
			       "method Add(a: int, b: ?int, label: ?string) -> "
			       "(sum: Sum, label: ?string)\\n"));
	expect_served(
		"{\"method\":\"org.varlink.service.GetInfo\"}",
		"{\"parameters\":{\"vendor\":\"\",\"product\":\"\",\"version\":\"\",\"url\":\"\","
		"\"interfaces\":[\"org.varlink.service\",\"io.test\"]}}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_filled),
		cmocka_unit_test(test_optional),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_built),
		cmocka_unit_test(test_type_read),
		cmocka_unit_test(test_added_method),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
