// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A real varlink_server on an sd-event loop, serving a toy interface on a
 * socket in a temporary directory. The test drives the loop itself with
 * sd_event_run() and talks to the server as a raw client (and through
 * varlink_client), all in one thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "varlink_client.h"
#include "varlink_server.h"
#include "varlink_wire.h"

#define MAX_MESSAGE 1024
#define PER_UID 3
#define UID_OUTPUT (1u << 20)
#define TEST_IDL "interface io.test\nmethod Echo() -> ()\n"

static sd_event *loop;
static struct varlink_server *srv;
static char dir[] = "/tmp/test_varlink_server.XXXXXX";
static char sock_path[128];

/* What the toy methods saw. */
static struct varlink_call *held;
static int closes, drains, flood_result;
static bool error_on_close;
static struct varlink_peer held_peer;

static void m_echo(struct varlink_call *c, const cJSON *p, void *userdata)
{
	assert_ptr_equal(userdata, &closes);
	varlink_call_reply(c, cJSON_Duplicate(p, true), false);
}

static void m_stream(struct varlink_call *c, const cJSON *p, void *userdata)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "n");
	cJSON *r;

	if (!varlink_call_more(c)) {
		varlink_call_error_expected_more(c);
		return;
	}
	for (int i = 0; i < (cJSON_IsNumber(n) ? n->valueint : 0); i++) {
		r = cJSON_CreateObject();
		cJSON_AddNumberToObject(r, "i", i);
		assert_int_equal(varlink_call_reply(c, r, true), 0);
	}
	r = cJSON_CreateObject();
	cJSON_AddTrueToObject(r, "done");
	varlink_call_reply(c, r, false);
}

static void on_drain(struct varlink_call *c, void *userdata)
{
	drains++;
}

static void on_close(struct varlink_call *c, void *userdata)
{
	assert_ptr_equal(c, held);
	closes++;
	held = NULL;
	/* During shutdown the connection still takes a last word. */
	if (error_on_close)
		varlink_call_error(c, "io.test.ShuttingDown", NULL);
}

/* Keeps the call open for the test to end. */
static void m_hold(struct varlink_call *c, const cJSON *p, void *userdata)
{
	if (!varlink_call_more(c)) {
		varlink_call_error_expected_more(c);
		return;
	}
	held = c;
	held_peer = *varlink_call_peer(c);
	assert_string_equal(varlink_call_method(c), "io.test.Hold");
	assert_false(varlink_call_oneway(c));
	varlink_call_set_callbacks(c, NULL, on_drain, on_close);
	varlink_call_reply(c, NULL, true);
}

/* Streams to a client that never reads, until the server gives up. */
static void m_flood(struct varlink_call *c, const cJSON *p, void *userdata)
{
	static char blob[60000];
	int r;

	memset(blob, 'z', sizeof(blob) - 1);
	held = c;
	varlink_call_set_callbacks(c, NULL, NULL, on_close);
	do {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "blob", blob);
		r = varlink_call_reply(c, o, true);
	} while (r == 0);
	flood_result = r;
}

static void m_no_reply(struct varlink_call *c, const cJSON *p, void *userdata)
{
}

/* Asks for continues on a call without "more": refused, then a real reply. */
static void m_bad_continue(struct varlink_call *c, const cJSON *p, void *userdata)
{
	assert_int_equal(varlink_call_reply(c, NULL, true), -EINVAL);
	varlink_call_reply(c, NULL, false);
}

static const struct varlink_method methods[] = {
	{ "io.test.Echo", m_echo },	   { "io.test.Stream", m_stream },
	{ "io.test.Hold", m_hold },	   { "io.test.Flood", m_flood },
	{ "io.test.NoReply", m_no_reply }, { "io.test.BadContinue", m_bad_continue },
};

static const struct varlink_server_options options = {
	.vendor = "Test Vendor",
	.product = "testd",
	.version = "1.2.3",
	.url = "https://example.org/",
	.interface_name = "io.test",
	.interface_description = TEST_IDL,
	.methods = methods,
	.n_methods = sizeof(methods) / sizeof(methods[0]),
	.userdata = &closes,
	.max_connections = 16,
	.max_connections_per_uid = PER_UID,
	.max_output_per_uid = UID_OUTPUT,
	.max_message_size = MAX_MESSAGE,
	.error_request_too_large = "io.test.RequestTooLarge",
	.error_too_many_connections = "io.test.TooManyConnections",
};

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/s.sock", dir);
	if (sd_event_new(&loop) < 0)
		return -1;
	if (varlink_server_new(&srv, loop, &options) < 0)
		return -1;
	if (varlink_server_listen_path(srv, sock_path, 0600) < 0)
		return -1;
	held = NULL;
	closes = drains = flood_result = 0;
	error_on_close = false;
	return 0;
}

static int teardown(void **state)
{
	varlink_server_free(srv);
	srv = NULL;
	/* The server removes the socket file it made. */
	if (access(sock_path, F_OK) == 0 || errno != ENOENT)
		return -1;
	loop = sd_event_unref(loop);
	rmdir(dir);
	memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
	return 0;
}

/* Run whatever the loop has to do right now. */
static void pump(void)
{
	for (int i = 0; i < 1000; i++)
		if (sd_event_run(loop, 0) <= 0)
			return;
}

struct raw {
	int fd;
	struct varlink_framer in;
};

static void raw_open(struct raw *r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(sa.sun_path, sock_path);
	r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(r->fd >= 0);
	assert_int_equal(connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(varlink_framer_init(&r->in, 16 << 20), 0);
	pump();
}

static void raw_close(struct raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	varlink_framer_done(&r->in);
}

static void raw_send(struct raw *r, const void *data, size_t len)
{
	assert_int_equal(send(r->fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Send a string including its NUL. */
static void raw_call(struct raw *r, const char *msg)
{
	raw_send(r, msg, strlen(msg) + 1);
}

/*
 * The next message from the server, parsed; NULL at EOF (or when nothing
 * comes within about two seconds, which fails the test).
 */
static cJSON *raw_recv(struct raw *r, bool *eof)
{
	*eof = false;
	for (int i = 0; i < 200; i++) {
		const char *msg;
		size_t len;
		char *space;
		ssize_t room, n;
		int f = varlink_framer_next(&r->in, &msg, &len);

		if (f == VARLINK_FRAME_MESSAGE) {
			cJSON *j = cJSON_Parse(msg);

			assert_non_null(j);
			return j;
		}
		assert_int_equal(f, VARLINK_FRAME_NEED_MORE);
		room = varlink_framer_space(&r->in, &space);
		assert_true(room > 0);
		n = recv(r->fd, space, (size_t)room, MSG_DONTWAIT);
		if (n > 0) {
			varlink_framer_commit(&r->in, (size_t)n);
			continue;
		}
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			*eof = true;
			return NULL;
		}
		assert_int_equal(errno, EAGAIN);
		pump();
		sd_event_run(loop, 10000);
	}
	fail_msg("no reply from the server");
	return NULL;
}

static cJSON *raw_reply(struct raw *r)
{
	bool eof;
	cJSON *j = raw_recv(r, &eof);

	if (!j)
		fail_msg("connection closed while waiting for a reply");
	return j;
}

static void raw_expect_eof(struct raw *r)
{
	bool eof;
	cJSON *j = raw_recv(r, &eof);

	if (j) {
		char *s = cJSON_PrintUnformatted(j);

		fail_msg("expected EOF, got %s", s);
	}
	assert_true(eof);
}

/* Nothing arrives while the loop runs for a while. */
static void raw_expect_nothing(struct raw *r)
{
	char b;

	for (int i = 0; i < 5; i++) {
		pump();
		sd_event_run(loop, 2000);
	}
	assert_int_equal(varlink_framer_buffered(&r->in), 0);
	assert_int_equal(recv(r->fd, &b, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

static const cJSON *get(const cJSON *j, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(j, key);
}

static const cJSON *params(const cJSON *j)
{
	const cJSON *p = get(j, "parameters");

	assert_true(cJSON_IsObject(p));
	return p;
}

static void expect_error(cJSON *j, const char *name, const char *key, const char *value)
{
	assert_true(cJSON_IsString(get(j, "error")));
	assert_string_equal(get(j, "error")->valuestring, name);
	assert_null(get(j, "continues"));
	if (key) {
		const cJSON *v = get(params(j), key);

		assert_true(cJSON_IsString(v));
		assert_string_equal(v->valuestring, value);
	}
	cJSON_Delete(j);
}

/* A plain reply with integer parameter key == value. */
static void expect_number(cJSON *j, const char *key, int value, bool continues)
{
	assert_null(get(j, "error"));
	assert_int_equal(cJSON_IsTrue(get(j, "continues")), continues);
	if (!continues)
		assert_null(get(j, "continues"));
	assert_true(cJSON_IsNumber(get(params(j), key)));
	assert_int_equal(get(params(j), key)->valueint, value);
	cJSON_Delete(j);
}

static void expect_empty(cJSON *j)
{
	assert_null(get(j, "error"));
	assert_null(get(j, "continues"));
	assert_null(params(j)->child);
	cJSON_Delete(j);
}

static void test_pipelined(void **state)
{
	static const char calls[] = "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":1}}\0"
				    "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":2}}\0"
				    "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":3}}";
	struct raw r;

	raw_open(&r);
	raw_send(&r, calls, sizeof(calls));
	for (int i = 1; i <= 3; i++)
		expect_number(raw_reply(&r), "n", i, false);
	raw_expect_nothing(&r);
	assert_int_equal(varlink_server_connection_count(srv), 1);
	raw_close(&r);
}

static void test_bytewise(void **state)
{
	const char *call = "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":42}}";
	struct raw r;

	raw_open(&r);
	for (size_t i = 0; i <= strlen(call); i++) {
		raw_send(&r, call + i, 1);
		pump();
	}
	expect_number(raw_reply(&r), "n", 42, false);
	raw_close(&r);
}

static void test_parameters_forms(void **state)
{
	struct raw r;

	raw_open(&r);
	raw_call(&r, "{\"method\":\"io.test.Echo\"}");
	expect_empty(raw_reply(&r));
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":null}");
	expect_empty(raw_reply(&r));
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":{}}");
	expect_empty(raw_reply(&r));
	/* Whitespace is fine; unknown top-level keys are ignored. */
	raw_call(&r, " { \"method\" : \"io.test.Echo\", \"future\": 1 } ");
	expect_empty(raw_reply(&r));
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":[]}");
	expect_error(raw_reply(&r), "org.varlink.service.InvalidParameter", "parameter",
		     "parameters");
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":1}");
	expect_error(raw_reply(&r), "org.varlink.service.InvalidParameter", "parameter",
		     "parameters");
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":\"x\"}");
	expect_error(raw_reply(&r), "org.varlink.service.InvalidParameter", "parameter",
		     "parameters");
	/* The connection survives all of that. */
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":7}}");
	expect_number(raw_reply(&r), "n", 7, false);
	raw_close(&r);
}

static void test_malformed_calls(void **state)
{
	static const struct {
		const char *msg, *param;
	} cases[] = {
		{ "[1,2]", "method" },
		{ "\"io.test.Echo\"", "method" },
		{ "{}", "method" },
		{ "{\"method\":null}", "method" },
		{ "{\"method\":5}", "method" },
		{ "{\"method\":\"Echo\"}", "method" },
		{ "{\"method\":\"io.test.echo\"}", "method" },
		{ "{\"method\":\"io..test.Echo\"}", "method" },
		{ "{\"method\":\"io.test-.Echo\"}", "method" },
		{ "{\"method\":\"test.\"}", "method" },
		{ "{\"method\":\"io.test.Echo\",\"method\":\"io.test.Echo\"}", "method" },
		{ "{\"method\":\"io.test.Echo\",\"oneway\":1}", "oneway" },
		{ "{\"method\":\"io.test.Echo\",\"more\":\"yes\"}", "more" },
		{ "{\"method\":\"io.test.Echo\",\"more\":true,\"oneway\":true}", "more" },
		{ "{\"method\":\"io.test.Echo\",\"upgrade\":true}", "upgrade" },
	};
	struct raw r;

	raw_open(&r);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		raw_call(&r, cases[i].msg);
		expect_error(raw_reply(&r), "org.varlink.service.InvalidParameter", "parameter",
			     cases[i].param);
	}
	/* cJSON would cut these strings short: refused, naming the culprit. */
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":{\"a\":1,\"m\":\"x\\u0000y\"}}");
	expect_error(raw_reply(&r), "org.varlink.service.InvalidParameter", "parameter", "m");
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":{\"m\":[{\"z\":\"\\u0000\"}]}}");
	expect_error(raw_reply(&r), "org.varlink.service.InvalidParameter", "parameter", "m");
	raw_call(&r, "{\"method\":\"io.test.Echo\\u0000x\"}");
	expect_error(raw_reply(&r), "org.varlink.service.InvalidParameter", "parameter", "method");
	/* An escaped backslash before "u0000" is no NUL. */
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":{\"m\":\"\\\\u0000\"}}");
	{
		cJSON *j = raw_reply(&r);

		assert_string_equal(get(params(j), "m")->valuestring, "\\u0000");
		cJSON_Delete(j);
	}
	/* Bad calls that asked for no reply get none. */
	raw_call(&r, "{\"method\":\"nodots\",\"oneway\":true}");
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":1,\"oneway\":true}");
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":8}}");
	expect_number(raw_reply(&r), "n", 8, false);
	raw_close(&r);
}

static void test_oneway(void **state)
{
	struct raw r;

	raw_open(&r);
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":1},\"oneway\":true}");
	raw_call(&r, "{\"method\":\"io.test.Nope\",\"oneway\":true}");
	raw_call(&r, "{\"method\":\"io.nope.Nope\",\"oneway\":true}");
	raw_call(&r, "{\"method\":\"io.test.Stream\",\"oneway\":true}");
	raw_call(&r, "{\"method\":\"io.test.NoReply\",\"oneway\":true}");
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":2},\"oneway\":false}");
	expect_number(raw_reply(&r), "n", 2, false);
	raw_expect_nothing(&r);
	raw_close(&r);
}

static void test_more(void **state)
{
	struct raw r;

	raw_open(&r);
	raw_call(&r, "{\"method\":\"io.test.Stream\",\"parameters\":{\"n\":3},\"more\":true}");
	for (int i = 0; i < 3; i++)
		expect_number(raw_reply(&r), "i", i, true);
	{
		cJSON *j = raw_reply(&r);

		assert_null(get(j, "continues"));
		assert_true(cJSON_IsTrue(get(params(j), "done")));
		cJSON_Delete(j);
	}
	/* A streaming method called without more says so itself. */
	raw_call(&r, "{\"method\":\"io.test.Stream\",\"parameters\":{\"n\":3}}");
	expect_error(raw_reply(&r), "org.varlink.service.ExpectedMore", NULL, NULL);
	/* A method may answer a "more" call with a single reply. */
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":5},\"more\":true}");
	expect_number(raw_reply(&r), "n", 5, false);
	/* No continues for a call that did not ask for more. */
	raw_call(&r, "{\"method\":\"io.test.BadContinue\"}");
	expect_empty(raw_reply(&r));
	raw_expect_nothing(&r);
	raw_close(&r);
}

static void test_unknown(void **state)
{
	struct raw r;

	raw_open(&r);
	raw_call(&r, "{\"method\":\"io.test.Nope\"}");
	expect_error(raw_reply(&r), "org.varlink.service.MethodNotFound", "method", "io.test.Nope");
	raw_call(&r, "{\"method\":\"io.other.Nope\"}");
	expect_error(raw_reply(&r), "org.varlink.service.InterfaceNotFound", "interface",
		     "io.other");
	raw_call(&r, "{\"method\":\"org.varlink.service.Nope\"}");
	expect_error(raw_reply(&r), "org.varlink.service.MethodNotFound", "method",
		     "org.varlink.service.Nope");
	/* A handler that forgets to reply still produces one. */
	raw_call(&r, "{\"method\":\"io.test.NoReply\"}");
	expect_error(raw_reply(&r), "org.varlink.service.MethodNotImplemented", "method",
		     "io.test.NoReply");
	raw_close(&r);
}

static void test_get_info(void **state)
{
	const cJSON *p, *ifs;
	struct raw r;
	cJSON *j;

	raw_open(&r);
	raw_call(&r, "{\"method\":\"org.varlink.service.GetInfo\"}");
	j = raw_reply(&r);
	assert_null(get(j, "error"));
	p = params(j);
	assert_string_equal(get(p, "vendor")->valuestring, "Test Vendor");
	assert_string_equal(get(p, "product")->valuestring, "testd");
	assert_string_equal(get(p, "version")->valuestring, "1.2.3");
	assert_string_equal(get(p, "url")->valuestring, "https://example.org/");
	ifs = get(p, "interfaces");
	assert_true(cJSON_IsArray(ifs));
	assert_int_equal(cJSON_GetArraySize(ifs), 2);
	assert_string_equal(cJSON_GetArrayItem(ifs, 0)->valuestring, "org.varlink.service");
	assert_string_equal(cJSON_GetArrayItem(ifs, 1)->valuestring, "io.test");
	cJSON_Delete(j);
	raw_call(&r, "{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":{\"x\":1}}");
	expect_error(raw_reply(&r), "org.varlink.service.InvalidParameter", "parameter", "x");
	raw_close(&r);
}

static void test_get_interface_description(void **state)
{
	struct raw r;
	cJSON *j;

	raw_open(&r);
	raw_call(&r,
		 "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
		 "\"parameters\":{\"interface\":\"io.test\"}}");
	j = raw_reply(&r);
	assert_string_equal(get(params(j), "description")->valuestring, TEST_IDL);
	cJSON_Delete(j);
	raw_call(&r,
		 "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
		 "\"parameters\":{\"interface\":\"org.varlink.service\"}}");
	j = raw_reply(&r);
	assert_non_null(strstr(get(params(j), "description")->valuestring,
			       "interface org.varlink.service\n"));
	assert_non_null(strstr(get(params(j), "description")->valuestring, "method GetInfo()"));
	cJSON_Delete(j);
	raw_call(&r,
		 "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
		 "\"parameters\":{\"interface\":\"io.nope\"}}");
	expect_error(raw_reply(&r), "org.varlink.service.InterfaceNotFound", "interface",
		     "io.nope");
	raw_call(&r, "{\"method\":\"org.varlink.service.GetInterfaceDescription\"}");
	expect_error(raw_reply(&r), "org.varlink.service.InvalidParameter", "parameter",
		     "interface");
	raw_call(&r,
		 "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
		 "\"parameters\":{\"interface\":3}}");
	expect_error(raw_reply(&r), "org.varlink.service.InvalidParameter", "parameter",
		     "interface");
	raw_close(&r);
}

static void test_invalid_json(void **state)
{
	static const char calls[] = "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":1}}\0"
				    "{\"method\":\0"
				    "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":2}}";
	static const char *const bad[] = { "", "{", "nope", "{\"method\":\"io.test.Echo\"} x",
					   "\xff\xfe" };
	struct raw r;

	/* Calls before the garbage are answered; nothing after it. */
	raw_open(&r);
	raw_send(&r, calls, sizeof(calls));
	expect_number(raw_reply(&r), "n", 1, false);
	raw_expect_eof(&r);
	raw_close(&r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw_open(&r);
		raw_call(&r, bad[i]);
		raw_expect_eof(&r);
		raw_close(&r);
	}
	pump();
	assert_int_equal(varlink_server_connection_count(srv), 0);
}

static void test_too_large(void **state)
{
	char big[3 * MAX_MESSAGE];
	struct raw r;
	cJSON *j;

	/* A call that never ends. */
	memset(big, ' ', sizeof(big));
	raw_open(&r);
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":1}}");
	raw_send(&r, big, sizeof(big));
	expect_number(raw_reply(&r), "n", 1, false);
	j = raw_reply(&r);
	assert_string_equal(get(j, "error")->valuestring, "io.test.RequestTooLarge");
	assert_int_equal(get(params(j), "limit")->valueint, MAX_MESSAGE);
	cJSON_Delete(j);
	raw_expect_eof(&r);
	raw_close(&r);

	/* A complete call one byte over the limit. */
	memcpy(big, "{\"method\":\"io.test.Echo\"}", 25);
	big[MAX_MESSAGE + 1] = '\0';
	raw_open(&r);
	raw_send(&r, big, MAX_MESSAGE + 2);
	j = raw_reply(&r);
	assert_string_equal(get(j, "error")->valuestring, "io.test.RequestTooLarge");
	cJSON_Delete(j);
	raw_expect_eof(&r);
	raw_close(&r);

	/* Exactly at the limit is fine. */
	big[MAX_MESSAGE] = '\0';
	raw_open(&r);
	raw_send(&r, big, MAX_MESSAGE + 1);
	expect_empty(raw_reply(&r));
	raw_close(&r);
}

static void test_truncated_then_close(void **state)
{
	struct raw r;

	raw_open(&r);
	assert_int_equal(varlink_server_connection_count(srv), 1);
	raw_send(&r, "{\"method\":\"io.test.Ec", 21);
	pump();
	raw_close(&r);
	pump();
	assert_int_equal(varlink_server_connection_count(srv), 0);

	/* Half-closed after a complete call: answered, then closed. */
	raw_open(&r);
	raw_call(&r, "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":3}}");
	shutdown(r.fd, SHUT_WR);
	expect_number(raw_reply(&r), "n", 3, false);
	raw_expect_eof(&r);
	raw_close(&r);

	/* Gone while a stream is still being written. */
	raw_open(&r);
	raw_call(&r, "{\"method\":\"io.test.Stream\",\"parameters\":{\"n\":5000},\"more\":true}");
	raw_close(&r);
	pump();
	assert_int_equal(varlink_server_connection_count(srv), 0);
}

static void test_max_per_uid(void **state)
{
	struct raw r[PER_UID + 1];
	cJSON *j;
	bool eof;

	for (int i = 0; i < PER_UID; i++)
		raw_open(&r[i]);
	assert_int_equal(varlink_server_connection_count(srv), PER_UID);
	raw_open(&r[PER_UID]);
	/* A bare error, not tied to any call, then the end. */
	j = raw_recv(&r[PER_UID], &eof);
	assert_non_null(j);
	assert_string_equal(get(j, "error")->valuestring, "io.test.TooManyConnections");
	assert_int_equal(get(params(j), "limit")->valueint, PER_UID);
	cJSON_Delete(j);
	raw_expect_eof(&r[PER_UID]);
	raw_close(&r[PER_UID]);
	assert_int_equal(varlink_server_connection_count(srv), PER_UID);

	/* The others still work; closing one makes room. */
	raw_call(&r[0], "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":1}}");
	expect_number(raw_reply(&r[0]), "n", 1, false);
	raw_close(&r[1]);
	pump();
	raw_open(&r[1]);
	raw_call(&r[1], "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":2}}");
	expect_number(raw_reply(&r[1]), "n", 2, false);
	for (int i = 0; i < PER_UID; i++)
		raw_close(&r[i]);
}

static void test_hold_blocks_pipeline(void **state)
{
	static const char calls[] = "{\"method\":\"io.test.Hold\",\"more\":true}\0"
				    "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":9}}";
	struct raw r;
	cJSON *j;

	raw_open(&r);
	raw_send(&r, calls, sizeof(calls));
	j = raw_reply(&r);
	assert_true(cJSON_IsTrue(get(j, "continues")));
	cJSON_Delete(j);
	assert_non_null(held);
	assert_int_equal(held_peer.uid, getuid());
	assert_int_equal(held_peer.gid, getgid());
	assert_int_equal(held_peer.pid, getpid());
	{
		/* All of them, however many (test_admin_groups.py tries 70). */
		int n = getgroups(0, NULL);
		gid_t *groups = calloc((size_t)(n > 0 ? n : 1), sizeof(gid_t));

		assert_non_null(groups);
		n = getgroups(n, groups);
		if (n >= 0) {
			assert_int_equal(held_peer.n_groups, n);
			if (n > 0)
				assert_memory_equal(held_peer.groups, groups,
						    (size_t)n * sizeof(gid_t));
		}
		free(groups);
	}
	/* The echo waits behind the open call. */
	raw_expect_nothing(&r);
	assert_true(drains > 0);

	j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "i", 1);
	assert_int_equal(varlink_call_reply(held, j, true), 0);
	assert_true(varlink_call_output_pending(held) > 0);
	expect_number(raw_reply(&r), "i", 1, true);
	assert_int_equal(varlink_call_output_pending(held), 0);
	raw_expect_nothing(&r);

	/* Ending the call lets the echo through. */
	assert_int_equal(varlink_call_reply(held, NULL, false), 0);
	held = NULL;
	expect_empty(raw_reply(&r));
	expect_number(raw_reply(&r), "n", 9, false);
	assert_int_equal(closes, 0);
	raw_close(&r);
}

static void test_hold_peer_gone(void **state)
{
	struct raw r;
	cJSON *j;

	raw_open(&r);
	raw_call(&r, "{\"method\":\"io.test.Hold\",\"more\":true}");
	cJSON_Delete(raw_reply(&r));
	assert_non_null(held);

	/* Half-closed: the open call keeps the connection. */
	shutdown(r.fd, SHUT_WR);
	raw_expect_nothing(&r);
	assert_int_equal(closes, 0);
	j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "i", 2);
	varlink_call_reply(held, j, true);
	expect_number(raw_reply(&r), "i", 2, true);

	/* Gone for good: on_close runs, once. */
	raw_close(&r);
	pump();
	assert_int_equal(closes, 1);
	assert_null(held);
	assert_int_equal(varlink_server_connection_count(srv), 0);
}

/* A UID's unread replies, on all its connections: beyond the bound its calls wait. */
static void test_uid_backlog(void **state)
{
	static char blob[60000];
	struct raw a, b;
	char buf[65536];
	cJSON *j;

	memset(blob, 'y', sizeof(blob) - 1);
	raw_open(&a);
	raw_open(&b);
	raw_call(&a, "{\"method\":\"io.test.Hold\",\"more\":true}");
	cJSON_Delete(raw_reply(&a));
	assert_non_null(held);
	/* a never reads: what its socket does not take stays in the server. */
	while (!varlink_call_peer_backlogged(held)) {
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "blob", blob);
		assert_int_equal(varlink_call_reply(held, j, true), 0);
		pump();
	}
	assert_true(varlink_call_output_pending(held) >= UID_OUTPUT / 2);
	/* Another connection of the same UID: its call waits. */
	raw_call(&b, "{\"method\":\"io.test.Echo\",\"parameters\":{\"n\":5}}");
	raw_expect_nothing(&b);
	/* a reads: under half the bound, b is served. */
	drains = 0;
	for (int i = 0; i < 100000; i++) {
		while (recv(a.fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
		pump();
		if (recv(b.fd, buf, 1, MSG_DONTWAIT | MSG_PEEK) > 0)
			break;
	}
	expect_number(raw_reply(&b), "n", 5, false);
	assert_false(varlink_call_peer_backlogged(held));
	/* And the held call hears on_drain once a has read it all. */
	for (int i = 0; i < 100000 && drains == 0; i++) {
		while (recv(a.fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
		pump();
	}
	assert_true(drains > 0);
	raw_close(&a);
	raw_close(&b);
	pump();
}

static void test_output_cap(void **state)
{
	struct raw r;

	raw_open(&r);
	raw_call(&r, "{\"method\":\"io.test.Flood\",\"more\":true}");
	pump();
	assert_int_equal(flood_result, -ENOBUFS);
	pump();
	assert_int_equal(closes, 1);
	assert_int_equal(varlink_server_connection_count(srv), 0);
	raw_close(&r);
}

static void test_shutdown(void **state)
{
	struct raw r, idle;
	cJSON *j;

	raw_open(&idle);
	raw_open(&r);
	raw_call(&r, "{\"method\":\"io.test.Hold\",\"more\":true}");
	cJSON_Delete(raw_reply(&r));
	assert_non_null(held);
	/* Queued but not yet written: shutdown still delivers it. */
	j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "i", 3);
	varlink_call_reply(held, j, true);

	error_on_close = true;
	varlink_server_shutdown(srv, 1000000);
	assert_int_equal(closes, 1);
	assert_null(held);
	assert_int_equal(varlink_server_connection_count(srv), 0);
	/* The socket file is gone and nobody is accepted any more. */
	assert_int_equal(access(sock_path, F_OK), -1);

	expect_number(raw_reply(&r), "i", 3, true);
	expect_error(raw_reply(&r), "io.test.ShuttingDown", NULL, NULL);
	raw_expect_eof(&r);
	raw_expect_eof(&idle);
	raw_close(&r);
	raw_close(&idle);
	varlink_server_shutdown(srv, 0);
}

static void test_listen_path(void **state)
{
	struct varlink_server *other;
	char path[160];
	struct stat st;
	int fd;

	assert_int_equal(stat(sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);

	assert_int_equal(varlink_server_new(&other, loop, &options), 0);
	/* Someone listens there: not stale, not ours to take. */
	assert_int_equal(varlink_server_listen_path(other, sock_path, 0600), -EADDRINUSE);
	/* Not a socket: left alone. */
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(varlink_server_listen_path(other, path, 0600), -EEXIST);
	unlink(path);
	/* A stale socket is replaced. */
	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		strcpy(sa.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(fd);
	}
	assert_int_equal(varlink_server_listen_path(other, path, 0666), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0666);
	/* Not a listening socket. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(varlink_server_listen_fd(other, fd), -EINVAL);
	close(fd);
	assert_int_equal(varlink_server_listen_path(other, "", 0600), -EINVAL);
	varlink_server_free(other);
	assert_int_equal(access(path, F_OK), -1);
}

/* varlink_client_read_reply() while this thread also runs the server. */
static int client_reply(struct varlink_client *c, cJSON **p, char **error, bool *continues)
{
	for (int i = 0; i < 200; i++) {
		int r = varlink_client_read_reply(c, 0, p, error, continues);

		if (r != -ETIMEDOUT)
			return r;
		pump();
		sd_event_run(loop, 10000);
	}
	return -ETIMEDOUT;
}

static void test_client(void **state)
{
	struct varlink_client *c;
	bool continues;
	char *error;
	cJSON *p, *in;
	char path[160];

	snprintf(path, sizeof(path), "%s/nothing.sock", dir);
	assert_int_equal(varlink_client_connect(&c, path), -ENOENT);
	assert_null(c);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		strcpy(sa.sun_path, path);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(fd);
	}
	assert_int_equal(varlink_client_connect(&c, path), -ECONNREFUSED);
	unlink(path);

	assert_int_equal(varlink_client_connect(&c, sock_path), 0);
	assert_true(varlink_client_fd(c) >= 0);
	pump();
	/* Nothing there yet: a zero timeout returns at once. */
	assert_int_equal(varlink_client_read_reply(c, 0, &p, &error, &continues), -ETIMEDOUT);

	in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "s", "h\xc3\xa9llo \"there\"");
	assert_int_equal(varlink_client_call(c, "io.test.Echo", in, 0), 0);
	assert_int_equal(client_reply(c, &p, &error, &continues), 0);
	assert_null(error);
	assert_false(continues);
	assert_string_equal(get(p, "s")->valuestring, "h\xc3\xa9llo \"there\"");
	cJSON_Delete(p);

	in = cJSON_CreateObject();
	cJSON_AddNumberToObject(in, "n", 2);
	assert_int_equal(varlink_client_call(c, "io.test.Stream", in, VARLINK_CALL_MORE), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(client_reply(c, &p, &error, &continues), 0);
		assert_null(error);
		assert_int_equal(continues, i < 2);
		cJSON_Delete(p);
	}

	assert_int_equal(varlink_client_call(c, "io.test.Echo", NULL, VARLINK_CALL_ONEWAY), 0);
	assert_int_equal(varlink_client_call(c, "io.test.Nope", NULL, 0), 0);
	assert_int_equal(client_reply(c, &p, &error, NULL), 0);
	assert_string_equal(error, "org.varlink.service.MethodNotFound");
	assert_string_equal(get(p, "method")->valuestring, "io.test.Nope");
	free(error);
	cJSON_Delete(p);
	/* Outputs are optional. */
	assert_int_equal(varlink_client_call(c, "io.test.Echo", NULL, 0), 0);
	assert_int_equal(client_reply(c, NULL, NULL, NULL), 0);

	assert_int_equal(varlink_client_call(c, "io.test.Echo", NULL,
					     VARLINK_CALL_MORE | VARLINK_CALL_ONEWAY),
			 -EINVAL);
	assert_int_equal(varlink_client_call(c, NULL, NULL, 0), -EINVAL);

	/* The server goes away: the last word, then the end. */
	assert_int_equal(varlink_client_call(c, "io.test.Hold", NULL, VARLINK_CALL_MORE), 0);
	assert_int_equal(client_reply(c, &p, &error, &continues), 0);
	assert_true(continues);
	cJSON_Delete(p);
	error_on_close = true;
	varlink_server_shutdown(srv, 1000000);
	assert_int_equal(client_reply(c, &p, &error, &continues), 0);
	assert_string_equal(error, "io.test.ShuttingDown");
	assert_false(continues);
	free(error);
	cJSON_Delete(p);
	assert_int_equal(client_reply(c, &p, &error, &continues), -ECONNRESET);
	assert_null(p);
	assert_null(error);
	varlink_client_free(c);
	varlink_client_free(NULL);
}

/* A server that is not one: the client must not believe it. */
static void test_client_garbage(void **state)
{
	static const struct {
		const char *data;
		size_t len;
		int expect;
	} cases[] = {
		{ "nope\0", 5, -EBADMSG },
		{ "[]\0", 3, -EBADMSG },
		{ "{\"parameters\":5}\0", 17, -EBADMSG },
		{ "{\"error\":5}\0", 12, -EBADMSG },
		{ "{\"continues\":\"yes\"}\0", 20, -EBADMSG },
		{ "{}\0", 3, 0 },
		{ "{\"parameters\":null}\0", 20, 0 },
		{ "{\"parameters\":{}", 16, -ECONNRESET },
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[160];
	int l;

	snprintf(path, sizeof(path), "%s/fake.sock", dir);
	strcpy(sa.sun_path, path);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 4), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct varlink_client *c;
		cJSON *p = NULL;
		char *error = NULL;
		int s;

		assert_int_equal(varlink_client_connect(&c, path), 0);
		s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		assert_true(s >= 0);
		assert_int_equal(send(s, cases[i].data, cases[i].len, MSG_NOSIGNAL),
				 (ssize_t)cases[i].len);
		close(s);
		assert_int_equal(varlink_client_read_reply(c, 1000, &p, &error, NULL),
				 cases[i].expect);
		if (cases[i].expect == 0) {
			assert_true(cJSON_IsObject(p));
			assert_null(p->child);
			assert_null(error);
		} else {
			assert_null(p);
		}
		cJSON_Delete(p);
		varlink_client_free(c);
	}

	/* A quiet server: the timeout holds. */
	{
		struct varlink_client *c;
		int s;

		assert_int_equal(varlink_client_connect(&c, path), 0);
		s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		assert_int_equal(varlink_client_read_reply(c, 50, NULL, NULL, NULL), -ETIMEDOUT);
		close(s);
		varlink_client_free(c);
	}
	close(l);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bytewise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parameters_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oneway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_more, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_interface_description, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_then_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_per_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_blocks_pipeline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_peer_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uid_backlog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_garbage, setup, teardown),
	};

	log_init(getenv("TEST_VERBOSE") != NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
