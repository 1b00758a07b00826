// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The io.greeter API without root or a kernel: its methods served on a real
 * sd-event loop over socketpair()s, each client end given the credentials
 * of the user it plays (root, two users, a member of the admin group). The
 * message store is the real one, in a temporary directory without a config
 * map; the event log is event_log_double.c, filled by the test; the kernel's
 * status is made up. Every parameter error and the permission matrix, and
 * that nothing refused changes anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "api.h"
#include "clock.h"
#include "event_log_double.h"
#include "greeter.h"
#include "io.greeter.varlink.h"
#include "log.h"

#define ROOT 0
#define ALICE 501
#define BOB 502
#define ADMIN 600 /* a member of the admin group */
#define STREAM_ID 0x00c0ffee12345678ULL
#define DEADLINE_USEC (30 * 1000 * 1000)

static sd_event *loop;
static struct messages *store;
static struct events *log_double;
static struct api *api;
static char dir[64];
static gid_t admin_gid;
static char admin_group[64];
static __u64 kernel_last_seq;

static void fake_kernel_status(void *userdata, struct kernel_status *out)
{
	*out = (struct kernel_status){
		.attach_mode = "tracepoint",
		.ring_size = 1 << 20,
		.config_map_id = 11,
		.events_map_id = 12,
		.stats_map_id = 13,
		.prog_count = 1,
		.stream_id = STREAM_ID,
		.last_seq = kernel_last_seq,
	};
	snprintf(out->attach_reason, sizeof(out->attach_reason), "made up by the test");
	snprintf(out->pin_dir, sizeof(out->pin_dir), "/nowhere");
	out->progs[0].name = "sched_exec";
	out->progs[0].prog_id = 21;
	out->progs[0].link_id = 22;
	out->stats[GREETER_STAT_EMITTED] = 7;
	out->stats[GREETER_STAT_EXITS] = 4;
	out->processes = 3;
	out->processes_evicted = 2;
}

/* The process table: pid 700 (ALICE's sh) started by 600 (root's bash), started by 1. */
static int fake_process_chain(void *userdata, __u32 pid, struct kernel_process *out, size_t max)
{
	static const struct kernel_process table[] = {
		{ .pid = 700, .uid = ALICE, .exec_ns = 3000, .comm = "sh", .file = "/bin/sh" },
		{ .pid = 600, .uid = ROOT, .exec_ns = 2000, .comm = "bash\x1b[31m", .file = "/bin/bash" },
		{ .pid = 1, .uid = ROOT, .exec_ns = 1000, .seeded = true, .comm = "systemd" },
	};
	size_t n = 0;

	for (size_t i = 0; i < 3; i++)
		if (table[i].pid == pid) {
			for (; i < 3 && n < max; i++)
				out[n++] = table[i];
			return (int)n;
		}
	return -ESRCH;
}

static void fake_kernel_stream(void *userdata, __u64 *last_seq, __u64 *stream_id)
{
	*last_seq = kernel_last_seq;
	*stream_id = STREAM_ID;
}

/* One connection to the API as a given user. */
struct client {
	int fd;
	char buf[1 << 20];
	size_t len;
};

static struct client *connect_as(uid_t uid)
{
	struct varlink_peer peer = { .uid = uid, .gid = uid, .pid = 1 };
	struct client *c = calloc(1, sizeof(*c));
	int sv[2];

	assert_non_null(c);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	if (uid == ADMIN) {
		peer.groups = &admin_gid;
		peer.n_groups = 1;
	}
	assert_int_equal(api_add_connection(api, sv[1], &peer), 0);
	c->fd = sv[0];
	assert_int_equal(fcntl(c->fd, F_SETFL, O_NONBLOCK), 0);
	return c;
}

static void client_close(struct client *c)
{
	close(c->fd);
	free(c);
	/* The server sees the hang-up. */
	for (int i = 0; i < 10; i++)
		sd_event_run(loop, 0);
}

static void send_text(struct client *c, const char *text)
{
	size_t n = strlen(text) + 1;

	assert_int_equal(write(c->fd, text, n), (ssize_t)n);
}

/* The next message from the server, run on the loop until it comes; NULL if none did. */
static cJSON *recv_msg(struct client *c)
{
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + DEADLINE_USEC;

	for (;;) {
		char *end = memchr(c->buf, '\0', c->len);

		if (end) {
			cJSON *m = cJSON_Parse(c->buf);
			size_t used = (size_t)(end - c->buf) + 1;

			memmove(c->buf, end + 1, c->len - used);
			c->len -= used;
			assert_non_null(m);
			return m;
		}
		if (now_usec(CLOCK_MONOTONIC) > deadline)
			return NULL;
		sd_event_run(loop, 10 * 1000);
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);

		if (n > 0)
			c->len += (size_t)n;
	}
}

/* Nothing more comes on c for a few turns of the loop. */
static void assert_quiet(struct client *c)
{
	ssize_t n;

	for (int i = 0; i < 20; i++)
		sd_event_run(loop, 1000);
	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	assert_true(n < 0 && errno == EAGAIN);
	assert_int_equal(c->len, 0);
}

/* Call method with parameters (JSON text, or NULL): the first reply. */
static cJSON *call(struct client *c, const char *method, const char *params, bool more)
{
	char text[8192];

	snprintf(text, sizeof(text), "{\"method\":\"%s\",\"parameters\":%s%s}", method,
		 params ? params : "{}", more ? ",\"more\":true" : "");
	send_text(c, text);
	return recv_msg(c);
}

static const char *error_of(const cJSON *reply)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(reply, "error");

	return cJSON_IsString(e) ? e->valuestring : NULL;
}

static const cJSON *param(const cJSON *reply, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(reply, "parameters"), name);
}

/* The call as user uid fails with error (and, for InvalidParameter, names param). */
static void expect_error(uid_t uid, const char *method, const char *params, bool more,
			 const char *error, const char *parameter)
{
	struct client *c = connect_as(uid);
	cJSON *r = call(c, method, params, more);

	assert_non_null(r);
	if (!error_of(r) || strcmp(error_of(r), error)) {
		char *text = cJSON_PrintUnformatted(r);

		fail_msg("%s(%s) as UID %u: expected %s, got %s", method, params ? params : "{}",
			 (unsigned)uid, error, text);
	}
	if (parameter)
		assert_string_equal(param(r, "parameter")->valuestring, parameter);
	cJSON_Delete(r);
	client_close(c);
}

static void expect_ok(uid_t uid, const char *method, const char *params)
{
	struct client *c = connect_as(uid);
	cJSON *r = call(c, method, params, false);

	assert_non_null(r);
	if (error_of(r)) {
		char *text = cJSON_PrintUnformatted(r);

		fail_msg("%s(%s) as UID %u: %s", method, params ? params : "{}", (unsigned)uid,
			 text);
	}
	cJSON_Delete(r);
	client_close(c);
}

/* The whole ListMessages reply as text: what "nothing changed" is checked against. */
static char *list_text(void)
{
	struct client *c = connect_as(BOB);
	cJSON *r = call(c, IO_GREETER_LIST_MESSAGES, NULL, false);
	char *text;

	assert_non_null(r);
	assert_null(error_of(r));
	text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(r, "parameters"));
	cJSON_Delete(r);
	client_close(c);
	return text;
}

static const char *message_of(uint32_t uid)
{
	static char text[GREETER_MESSAGE_SIZE];
	char params[64];
	struct client *c = connect_as(BOB);
	cJSON *r;

	snprintf(params, sizeof(params), "{\"uid\":%u}", uid);
	r = call(c, IO_GREETER_GET_MESSAGE, params, false);
	assert_non_null(r);
	assert_null(error_of(r));
	snprintf(text, sizeof(text), "%s", param(r, "message")->valuestring);
	cJSON_Delete(r);
	client_close(c);
	return text;
}

static int setup(void **state)
{
	struct greeter_entries none = { 0 };
	const struct group *g = getgrgid(0);
	struct api_options o = {
		.listen_fd = -1,
		.admin_group = admin_group,
		.state_dir = dir,
		.replay_window = 1000,
		.kernel_status = fake_kernel_status,
		.kernel_stream = fake_kernel_stream,
		.kernel_process_chain = fake_process_chain,
	};

	/* Group 0 is the admin group: every system has it, by some name. */
	assert_non_null(g);
	snprintf(admin_group, sizeof(admin_group), "%s", g->gr_name);
	admin_gid = 0;
	snprintf(dir, sizeof(dir), "/tmp/test_api.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(sd_event_new(&loop), 0);
	assert_int_equal(messages_new(&store, -1, dir, -1), 0);
	messages_adopt(store, &none);
	assert_int_equal(messages_open_log(store, loop, false), 0);
	assert_int_equal(event_log_double_new(&log_double), 0);
	o.loop = loop;
	o.messages = store;
	o.events = log_double;
	o.start_usec = now_usec(CLOCK_MONOTONIC);
	assert_int_equal(api_start(&api, &o), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	api_stop(api);
	messages_free(store);
	event_log_double_free(log_double);
	sd_event_unref(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Who may change which message. */
static void test_edit_permissions(void **state)
{
	char *before;

	expect_ok(ROOT, IO_GREETER_SET_MESSAGE, "{\"message\":\"default\"}");
	expect_ok(ROOT, IO_GREETER_SET_MESSAGE, "{\"uid\":502,\"message\":\"set by root\"}");
	expect_ok(ALICE, IO_GREETER_SET_MESSAGE, "{\"uid\":501,\"message\":\"alice's own\"}");
	assert_string_equal(message_of(ALICE), "alice's own");
	assert_string_equal(message_of(BOB), "set by root");

	before = list_text();
	/* Another user's message, the default (uid absent or named): root's only. */
	expect_error(ALICE, IO_GREETER_SET_MESSAGE, "{\"uid\":502,\"message\":\"x\"}", false,
		     IO_GREETER_ERROR_PERMISSION_DENIED, NULL);
	expect_error(ALICE, IO_GREETER_SET_MESSAGE, "{\"message\":\"x\"}", false,
		     IO_GREETER_ERROR_PERMISSION_DENIED, NULL);
	expect_error(ALICE, IO_GREETER_SET_MESSAGE, "{\"uid\":null,\"message\":\"x\"}", false,
		     IO_GREETER_ERROR_PERMISSION_DENIED, NULL);
	/* The admin group watches everyone's events; it edits only its own message. */
	expect_error(ADMIN, IO_GREETER_SET_MESSAGE, "{\"uid\":501,\"message\":\"x\"}", false,
		     IO_GREETER_ERROR_PERMISSION_DENIED, NULL);
	expect_error(BOB, IO_GREETER_REMOVE_MESSAGE, "{\"uid\":501}", false,
		     IO_GREETER_ERROR_PERMISSION_DENIED, NULL);
	expect_error(ALICE, IO_GREETER_REMOVE_MESSAGE, NULL, false,
		     IO_GREETER_ERROR_PERMISSION_DENIED, NULL);
	expect_error(ADMIN, IO_GREETER_REMOVE_MESSAGE, "{\"uid\":502}", false,
		     IO_GREETER_ERROR_PERMISSION_DENIED, NULL);
	/* Only root imports, even an empty list. */
	expect_error(ALICE, IO_GREETER_IMPORT_MESSAGES, "{\"messages\":[]}", false,
		     IO_GREETER_ERROR_PERMISSION_DENIED, NULL);
	expect_error(ADMIN, IO_GREETER_IMPORT_MESSAGES,
		     "{\"messages\":[{\"uid\":1,\"message\":\"x\"}],\"replace\":true}", false,
		     IO_GREETER_ERROR_PERMISSION_DENIED, NULL);
	{
		char *after = list_text();

		assert_string_equal(before, after);
		free(after);
	}
	free(before);

	/* Anyone reads any message; a user removes its own. */
	expect_ok(ADMIN, IO_GREETER_SET_MESSAGE, "{\"uid\":600,\"message\":\"admin's own\"}");
	assert_string_equal(message_of(600), "admin's own");
	expect_ok(ALICE, IO_GREETER_REMOVE_MESSAGE, "{\"uid\":501}");
	assert_string_equal(message_of(ALICE), "default");
	expect_error(ALICE, IO_GREETER_REMOVE_MESSAGE, "{\"uid\":501}", false,
		     IO_GREETER_ERROR_NO_SUCH_MESSAGE, NULL);
	/* Root's import: replace the whole set. */
	{
		struct client *c = connect_as(ROOT);
		cJSON *r = call(c, IO_GREETER_IMPORT_MESSAGES,
				"{\"messages\":[{\"uid\":7,\"message\":\"seven\"}],\"replace\":true}",
				false);

		assert_null(error_of(r));
		assert_int_equal(param(r, "set")->valueint, 1);
		assert_int_equal(param(r, "removed")->valueint, 3);
		cJSON_Delete(r);
		client_close(c);
	}
	assert_string_equal(message_of(7), "seven");
	assert_string_equal(message_of(BOB), GREETER_BUILTIN_MESSAGE);
}

/* Every bad parameter: the error that names it, and nothing changed. */
static void test_parameter_errors(void **state)
{
	static const struct {
		const char *method, *params;
		bool more;
		const char *error, *parameter;
	} bad[] = {
		{ IO_GREETER_SET_MESSAGE, NULL, false, "org.varlink.service.InvalidParameter",
		  "message" },
		{ IO_GREETER_SET_MESSAGE, "{\"message\":5}", false,
		  "org.varlink.service.InvalidParameter", "message" },
		{ IO_GREETER_SET_MESSAGE, "{\"message\":\"x\",\"color\":1}", false,
		  "org.varlink.service.InvalidParameter", "color" },
		{ IO_GREETER_SET_MESSAGE, "{\"uid\":-1,\"message\":\"x\"}", false,
		  "org.varlink.service.InvalidParameter", "uid" },
		{ IO_GREETER_SET_MESSAGE, "{\"uid\":4294967295,\"message\":\"x\"}", false,
		  "org.varlink.service.InvalidParameter", "uid" },
		{ IO_GREETER_SET_MESSAGE, "{\"uid\":1.5,\"message\":\"x\"}", false,
		  "org.varlink.service.InvalidParameter", "uid" },
		{ IO_GREETER_SET_MESSAGE, "{\"uid\":\"1\",\"message\":\"x\"}", false,
		  "org.varlink.service.InvalidParameter", "uid" },
		{ IO_GREETER_SET_MESSAGE,
		  "{\"uid\":1,\"message\":\"0123456789012345678901234567890123456789012345678901"
		  "234567890123\"}",
		  false, IO_GREETER_ERROR_MESSAGE_TOO_LONG, NULL },
		{ IO_GREETER_SET_MESSAGE, "{\"uid\":1,\"message\":\"\\u001b[31mred\"}", false,
		  IO_GREETER_ERROR_INVALID_MESSAGE, NULL },
		{ IO_GREETER_SET_MESSAGE, "{\"uid\":1,\"message\":\"\"}", false,
		  IO_GREETER_ERROR_INVALID_MESSAGE, NULL },
		{ IO_GREETER_GET_MESSAGE, "{\"uid\":true}", false,
		  "org.varlink.service.InvalidParameter", "uid" },
		{ IO_GREETER_REMOVE_MESSAGE, "{\"uid\":[]}", false,
		  "org.varlink.service.InvalidParameter", "uid" },
		{ IO_GREETER_LIST_MESSAGES, "{\"all\":true}", false,
		  "org.varlink.service.InvalidParameter", "all" },
		{ IO_GREETER_IMPORT_MESSAGES, NULL, false, "org.varlink.service.InvalidParameter",
		  "messages" },
		{ IO_GREETER_IMPORT_MESSAGES, "{\"messages\":{}}", false,
		  "org.varlink.service.InvalidParameter", "messages" },
		{ IO_GREETER_IMPORT_MESSAGES, "{\"messages\":[],\"replace\":1}", false,
		  "org.varlink.service.InvalidParameter", "replace" },
		{ IO_GREETER_IMPORT_MESSAGES, "{\"messages\":[{\"uid\":1}]}", false,
		  IO_GREETER_ERROR_INVALID_IMPORT, NULL },
		{ IO_GREETER_IMPORT_MESSAGES,
		  "{\"messages\":[{\"uid\":1,\"message\":\"a\"},{\"uid\":1,\"message\":\"b\"}]}",
		  false, IO_GREETER_ERROR_INVALID_IMPORT, NULL },
		{ IO_GREETER_IMPORT_MESSAGES, "{\"messages\":[{\"uid\":1,\"message\":\"a\",\"x\":1}]}",
		  false, IO_GREETER_ERROR_INVALID_IMPORT, NULL },
		{ IO_GREETER_WATCH_EVENTS, NULL, false, "org.varlink.service.ExpectedMore", NULL },
		{ IO_GREETER_WATCH_EVENTS, "{\"comm\":\"0123456789abcdef\"}", true,
		  "org.varlink.service.InvalidParameter", "comm" },
		{ IO_GREETER_WATCH_EVENTS,
		  "{\"unit\":\"0123456789012345678901234567890123456789012345678901234567890123"
		  ".service\"}",
		  true, "org.varlink.service.InvalidParameter", "unit" },
		{ IO_GREETER_WATCH_EVENTS, "{\"after_seq\":-1}", true,
		  "org.varlink.service.InvalidParameter", "after_seq" },
		{ IO_GREETER_WATCH_EVENTS, "{\"stream\":\"00c0ffee123456780\"}", true,
		  "org.varlink.service.InvalidParameter", "stream" },
		{ IO_GREETER_WATCH_EVENTS, "{\"uid\":-5}", true,
		  "org.varlink.service.InvalidParameter", "uid" },
		{ IO_GREETER_WATCH_EVENTS, "{\"include_failed\":\"yes\"}", true,
		  "org.varlink.service.InvalidParameter", "include_failed" },
		{ "io.greeter.Reboot", NULL, false, "org.varlink.service.MethodNotFound", NULL },
	};
	char *before;

	expect_ok(ROOT, IO_GREETER_SET_MESSAGE, "{\"uid\":1,\"message\":\"one\"}");
	before = list_text();
	/* As root, who may do the most: the refusal is for the parameter alone. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(ROOT, bad[i].method, bad[i].params, bad[i].more, bad[i].error,
			     bad[i].parameter);
	{
		char *after = list_text();

		assert_string_equal(before, after);
		free(after);
	}
	free(before);
	/* InvalidImport says which entry. */
	{
		struct client *c = connect_as(ROOT);
		cJSON *r = call(c, IO_GREETER_IMPORT_MESSAGES,
				"{\"messages\":[{\"uid\":2,\"message\":\"a\"},{\"uid\":2,"
				"\"message\":\"b\"}]}",
				false);

		assert_int_equal(param(r, "index")->valueint, 1);
		assert_non_null(strstr(param(r, "reason")->valuestring, "listed twice"));
		cJSON_Delete(r);
		client_close(c);
	}
}

/* ImportMessages' entries: the reason each bad one gets, word for word. */
static void test_import_reasons(void **state)
{
	static const struct {
		const char *messages;
		int index;
		const char *reason;
	} bad[] = {
		{ "[\"x\"]", 0, "not an object" },
		{ "[{\"uid\":1,\"message\":\"a\"},[]]", 1, "not an object" },
		{ "[{\"uid\":1,\"message\":\"a\",\"x\":1}]", 0, "unknown key" },
		{ "[{\"x\":1,\"uid\":-1}]", 0, "unknown key" },
		{ "[{\"uid\":1,\"uid\":2,\"message\":\"a\"}]", 0, "repeated key" },
		{ "[{\"uid\":-1,\"message\":\"a\"}]", 0, "uid is not a UID (0 to 4294967294)" },
		{ "[{\"uid\":4294967295,\"message\":\"a\"}]", 0,
		  "uid is not a UID (0 to 4294967294)" },
		{ "[{\"uid\":1.5,\"message\":\"a\"}]", 0, "uid is not a UID (0 to 4294967294)" },
		{ "[{\"uid\":\"1\",\"message\":\"a\"}]", 0, "uid is not a UID (0 to 4294967294)" },
		/* The uid is looked at first. */
		{ "[{\"uid\":-1}]", 0, "uid is not a UID (0 to 4294967294)" },
		{ "[{\"message\":5,\"uid\":1e300}]", 0, "uid is not a UID (0 to 4294967294)" },
		{ "[{\"uid\":1}]", 0, "message is missing or not a string" },
		{ "[{\"uid\":null,\"message\":null}]", 0, "message is missing or not a string" },
		{ "[{\"message\":[\"a\"]}]", 0, "message is missing or not a string" },
		{ "[{\"message\":\"\"}]", 0, "message: message is empty" },
		{ "[{\"message\":\"a\\nb\"}]", 0, "message: message contains a control character" },
		{ "[{\"message\":\"0123456789012345678901234567890123456789012345678901234567890123\"}]",
		  0, "message: longer than 63 bytes" },
		{ "[{\"message\":\"a\"},{\"uid\":null,\"message\":\"b\"}]", 1,
		  "the default message is listed twice" },
		{ "[{\"uid\":5,\"message\":\"a\"},{\"uid\":5,\"message\":\"b\"}]", 1,
		  "UID 5 is listed twice" },
	};
	struct client *c = connect_as(ROOT);
	char params[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *r;

		snprintf(params, sizeof(params), "{\"messages\":%s}", bad[i].messages);
		r = call(c, IO_GREETER_IMPORT_MESSAGES, params, false);
		if (!error_of(r) || strcmp(error_of(r), IO_GREETER_ERROR_INVALID_IMPORT) ||
		    param(r, "index")->valueint != bad[i].index ||
		    strcmp(param(r, "reason")->valuestring, bad[i].reason))
			fail_msg("%s: %s", params, cJSON_PrintUnformatted(r));
		cJSON_Delete(r);
	}
	client_close(c);
}

/* ImportMessages as root: its reply's parameters, as compact JSON. */
static void expect_import(const char *params, const char *reply)
{
	struct client *c = connect_as(ROOT);
	cJSON *r = call(c, IO_GREETER_IMPORT_MESSAGES, params, false);
	char *got;

	assert_non_null(r);
	got = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(r, "parameters"));
	if (error_of(r) || strcmp(got, reply))
		fail_msg("%s: %s", params, cJSON_PrintUnformatted(r));
	free(got);
	cJSON_Delete(r);
	client_close(c);
}

/* The change log's size and time: a write changes them. */
static struct stat log_stat(void)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/messages.log", dir);
	assert_int_equal(stat(path, &st), 0);
	return st;
}

static void assert_log_untouched(const struct stat *before)
{
	struct stat now = log_stat();

	assert_int_equal(now.st_size, before->st_size);
	assert_int_equal(now.st_mtim.tv_sec, before->st_mtim.tv_sec);
	assert_int_equal(now.st_mtim.tv_nsec, before->st_mtim.tv_nsec);
}

static void count_done(void *userdata, int r, const char *err)
{
	int *left = userdata;

	assert_int_equal(r, 0);
	(*left)--;
}

/*
 * What ImportMessages counts: added, updated, unchanged and removed, each
 * exactly; an import that changes nothing (merge or replace, in any order)
 * writes nothing; one made while a change is being written is measured
 * against that change and waits for it.
 */
static void test_import_counts(void **state)
{
	static const char three[] = "{\"messages\":[{\"uid\":1,\"message\":\"one\"},"
				    "{\"uid\":2,\"message\":\"two\"},{\"message\":\"all\"}]";
	struct greeter_entries list = { 0 };
	struct messages_import_counts n;
	struct stat before;
	char params[256], err[256];
	int left = 2;

	snprintf(params, sizeof(params), "%s,\"replace\":true}", three);
	expect_import(params, "{\"set\":3,\"removed\":0,\"added\":3,\"updated\":0,"
			      "\"unchanged\":0}");
	before = log_stat();
	assert_true(before.st_size > 0);
	expect_import(params, "{\"set\":3,\"removed\":0,\"added\":0,\"updated\":0,"
			      "\"unchanged\":3}");
	snprintf(params, sizeof(params), "%s}", three);
	expect_import(params, "{\"set\":3,\"removed\":0,\"added\":0,\"updated\":0,"
			      "\"unchanged\":3}");
	expect_import("{\"messages\":[{\"message\":\"all\"},{\"uid\":2,\"message\":\"two\"},"
		      "{\"uid\":1,\"message\":\"one\"}],\"replace\":true}",
		      "{\"set\":3,\"removed\":0,\"added\":0,\"updated\":0,\"unchanged\":3}");
	expect_import("{\"messages\":[{\"uid\":2,\"message\":\"two\"}]}",
		      "{\"set\":1,\"removed\":0,\"added\":0,\"updated\":0,\"unchanged\":1}");
	expect_import("{\"messages\":[]}",
		      "{\"set\":0,\"removed\":0,\"added\":0,\"updated\":0,\"unchanged\":0}");
	assert_log_untouched(&before);

	/* One updated, one removed, one added, one as it was. */
	expect_import("{\"messages\":[{\"uid\":1,\"message\":\"one\"},{\"uid\":2,\"message\":"
		      "\"TWO\"},{\"uid\":3,\"message\":\"three\"}],\"replace\":true}",
		      "{\"set\":3,\"removed\":1,\"added\":1,\"updated\":1,\"unchanged\":1}");
	assert_true(log_stat().st_size > before.st_size);
	assert_string_equal(message_of(2), "TWO");
	assert_string_equal(message_of(BOB), GREETER_BUILTIN_MESSAGE);

	/* UID 1's "uno" is being written: an import of "uno" is unchanged, and waits. */
	assert_int_equal(messages_set(store, 1, "uno", 3, count_done, &left, err, sizeof(err)), 0);
	assert_int_equal(greeter_entries_add(&list, 1, "uno"), 0);
	assert_int_equal(messages_import(store, &list, false, &n, count_done, &left, err,
					 sizeof(err)),
			 0);
	assert_true(n.added == 0 && n.updated == 0 && n.unchanged == 1 && n.removed == 0);
	for (uint64_t end = now_usec(CLOCK_MONOTONIC) + DEADLINE_USEC;
	     left && now_usec(CLOCK_MONOTONIC) < end;)
		sd_event_run(loop, 10 * 1000);
	assert_int_equal(left, 0);
	assert_string_equal(message_of(1), "uno");
}

static struct greeter_event event(uint64_t seq, uint32_t uid, const char *comm)
{
	struct greeter_event e = { .seq = seq, .pid = 1000 + (uint32_t)seq, .uid = uid, .gid = uid };

	snprintf(e.comm, sizeof(e.comm), "%s", comm);
	snprintf(e.filename, sizeof(e.filename), "/usr/bin/%s", comm);
	snprintf(e.message, sizeof(e.message), "hi %u", uid);
	return e;
}

/* The events a watcher receives until it has n; their seqs, in order. */
static void expect_events(struct client *c, const uint64_t *seqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cJSON *r = recv_msg(c);
		const cJSON *ev;

		assert_non_null(r);
		ev = param(r, "event");
		assert_non_null(ev);
		assert_int_equal(cJSON_GetObjectItemCaseSensitive(ev, "seq")->valuedouble, seqs[i]);
		cJSON_Delete(r);
	}
	assert_quiet(c);
}

static struct client *watch(uid_t uid, const char *params)
{
	struct client *c = connect_as(uid);
	cJSON *first = call(c, IO_GREETER_WATCH_EVENTS, params, true);
	char stream[32];

	assert_non_null(first);
	assert_null(error_of(first));
	snprintf(stream, sizeof(stream), "%016llx", (unsigned long long)STREAM_ID);
	assert_string_equal(param(first, "stream")->valuestring, stream);
	cJSON_Delete(first);
	return c;
}

/* Who sees whose events. */
static void test_watch_permissions(void **state)
{
	struct client *alice = watch(ALICE, NULL);
	struct client *alice_bash = watch(ALICE, "{\"comm\":\"bash\"}");
	struct client *bob = watch(BOB, "{\"uid\":502}");
	struct client *admin = watch(ADMIN, NULL);
	struct client *admin_bob = watch(ADMIN, "{\"uid\":502}");
	struct client *root = watch(ROOT, NULL);
	struct greeter_event evs[] = {
		event(1, ALICE, "bash"), event(2, BOB, "bash"), event(3, ALICE, "ls"),
		event(4, ROOT, "sshd"),
	};

	/* Another user's events: the admin group's and root's only. */
	expect_error(ALICE, IO_GREETER_WATCH_EVENTS, "{\"uid\":502}", true,
		     IO_GREETER_ERROR_PERMISSION_DENIED, NULL);
	expect_error(BOB, IO_GREETER_WATCH_EVENTS, "{\"uid\":0}", true,
		     IO_GREETER_ERROR_PERMISSION_DENIED, NULL);
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		event_log_double_push(log_double, &evs[i]);
	kernel_last_seq = 4;
	expect_events(alice, (const uint64_t[]){ 1, 3 }, 2);
	expect_events(alice_bash, (const uint64_t[]){ 1 }, 1);
	expect_events(bob, (const uint64_t[]){ 2 }, 1);
	expect_events(admin, (const uint64_t[]){ 1, 2, 3, 4 }, 4);
	expect_events(admin_bob, (const uint64_t[]){ 2 }, 1);
	expect_events(root, (const uint64_t[]){ 1, 2, 3, 4 }, 4);
	client_close(alice);
	client_close(alice_bash);
	client_close(bob);
	client_close(admin);
	client_close(admin_bob);
	client_close(root);
}

/* A resume replays what the window holds after the caller's seq, its own events only. */
static void test_watch_resume(void **state)
{
	char params[128];
	struct client *c;
	cJSON *first;

	for (uint64_t seq = 1; seq <= 6; seq++) {
		struct greeter_event e = event(seq, seq % 2 ? ALICE : BOB, "true");

		event_log_double_push(log_double, &e);
	}
	snprintf(params, sizeof(params), "{\"after_seq\":2,\"stream\":\"%016llx\"}",
		 (unsigned long long)STREAM_ID);
	c = watch(ALICE, params);
	expect_events(c, (const uint64_t[]){ 3, 5 }, 2);
	client_close(c);

	/* Another stream's number: from the start of the window. */
	c = watch(ALICE, "{\"after_seq\":4,\"stream\":\"0000000000000001\"}");
	expect_events(c, (const uint64_t[]){ 1, 3, 5 }, 3);
	client_close(c);

	/* What left the window is reported as dropped in the first reply. */
	event_log_double_forget(log_double, 4);
	c = connect_as(ALICE);
	snprintf(params, sizeof(params), "{\"after_seq\":1,\"stream\":\"%016llx\"}",
		 (unsigned long long)STREAM_ID);
	first = call(c, IO_GREETER_WATCH_EVENTS, params, true);
	assert_null(error_of(first));
	assert_int_equal(param(first, "dropped")->valueint, 3);
	cJSON_Delete(first);
	expect_events(c, (const uint64_t[]){ 5 }, 1);
	client_close(c);
}

static void test_status(void **state)
{
	struct client *w = watch(ALICE, NULL);
	static const char *const varying[] = { "version", "kernel_release", "state_dir",
					       "uptime_usec" };
	struct client *c = connect_as(BOB);
	char *text;
	cJSON *r;

	expect_ok(ROOT, IO_GREETER_SET_MESSAGE, "{\"uid\":9,\"message\":\"nine\"}");
	r = call(c, IO_GREETER_GET_STATUS, NULL, false);
	assert_null(error_of(r));
	assert_string_equal(param(r, "state_dir")->valuestring, dir);
	assert_true(cJSON_IsString(param(r, "kernel_release")));
	assert_true(cJSON_IsNumber(param(r, "uptime_usec")));
	assert_true(cJSON_IsString(param(r, "version")));
	/* The rest, whole and in the IDL's order (ring_used absent: the kernel did not say). */
	for (size_t i = 0; i < sizeof(varying) / sizeof(varying[0]); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(r, "parameters"), varying[i]);
	text = cJSON_PrintUnformatted(r);
	assert_string_equal(
		text,
		"{\"parameters\":{\"attach_mode\":\"tracepoint\","
		"\"attach_reason\":\"made up by the test\",\"pin_dir\":\"/nowhere\","
		"\"messages\":1,\"watchers\":1,\"ring_size\":1048576,"
		"\"process_table_size\":16384,\"replay_window\":1000,"
		"\"retained\":0,\"change_log_size\":20,\"config_map_id\":11,"
		"\"events_map_id\":12,\"stats_map_id\":13,\"programs\":[{\"name\":"
		"\"sched_exec\",\"program_id\":21,\"link_id\":22}],\"counters\":{"
		"\"emitted\":7,\"lost_kernel\":0,\"failed_execs\":0,\"received\":0,"
		"\"delivered\":0,\"dropped_watchers\":0,\"dropped_journal\":0,"
		"\"dropped_print\":0,\"dropped_late\":0,\"repeated\":0,\"malformed\":0,"
		"\"compactions\":0,\"compactions_failed\":0,\"exits\":4,\"processes\":3,"
		"\"processes_evicted\":2}}}");
	free(text);
	cJSON_Delete(r);
	client_close(c);
	client_close(w);
}

/* Who started a process: anyone's own, everyone's for root and the admin group. */
static void test_process_chain(void **state)
{
	struct client *c = connect_as(ALICE);
	cJSON *r = call(c, IO_GREETER_GET_PROCESS_CHAIN, "{\"pid\":700}", false);
	const cJSON *chain, *step;
	char *text;

	assert_non_null(r);
	assert_null(error_of(r));
	chain = param(r, "chain");
	assert_int_equal(cJSON_GetArraySize(chain), 3);
	step = cJSON_GetArrayItem(chain, 1);
	assert_int_equal(cJSON_GetObjectItem(step, "pid")->valueint, 600);
	/* Kernel strings are hostile: the escape goes out as JSON escapes it, valid UTF-8. */
	assert_string_equal(cJSON_GetObjectItem(step, "comm")->valuestring, "bash\x1b[31m");
	text = cJSON_GetObjectItem(step, "exec_id")->valuestring;
	assert_int_equal(strlen(text), 32 + 1 + 4 + 1 + 3);
	assert_string_equal(text + 33, "2000-600");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(chain, 2), "seeded")));
	cJSON_Delete(r);
	client_close(c);

	expect_error(BOB, IO_GREETER_GET_PROCESS_CHAIN, "{\"pid\":700}", false,
		     IO_GREETER_ERROR_PERMISSION_DENIED, NULL);
	expect_error(ALICE, IO_GREETER_GET_PROCESS_CHAIN, "{\"pid\":600}", false,
		     IO_GREETER_ERROR_PERMISSION_DENIED, NULL);
	expect_ok(ADMIN, IO_GREETER_GET_PROCESS_CHAIN, "{\"pid\":700}");
	expect_ok(ROOT, IO_GREETER_GET_PROCESS_CHAIN, "{\"pid\":1}");
	expect_error(ROOT, IO_GREETER_GET_PROCESS_CHAIN, "{\"pid\":4242}", false,
		     IO_GREETER_ERROR_NO_SUCH_PROCESS, NULL);
	expect_error(ROOT, IO_GREETER_GET_PROCESS_CHAIN, "{\"pid\":0}", false,
		     "org.varlink.service.InvalidParameter", "pid");
	expect_error(ROOT, IO_GREETER_GET_PROCESS_CHAIN, "{\"pid\":4294967296}", false,
		     "org.varlink.service.InvalidParameter", "pid");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_edit_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parameter_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_reasons, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_counts, setup, teardown),
	};

	log_init(false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
