// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * io.greeter's parameter contract, from its IDL (daemon/api/io.greeter.varlink)
 * as greeterd checks every call before a method runs: without root, a
 * kernel or a greeterd. The checks that need the caller or the state
 * (a UID's range, who may edit, a comm's length) are the methods' own and
 * are tested on the real greeterd (tests/integration).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io.greeter.varlink.h"

static const struct {
	const struct varlink_idl_method *m;
	const char *parameters;
	const char *bad; /* NULL: accepted */
} calls[] = {
	{ &io_greeter_set_message_idl, "{\"message\":\"hi\"}", NULL },
	{ &io_greeter_set_message_idl, "{\"uid\":501,\"message\":\"hi\"}", NULL },
	{ &io_greeter_set_message_idl, "{\"uid\":null,\"message\":\"hi\"}", NULL },
	{ &io_greeter_set_message_idl, "{}", "message" },
	{ &io_greeter_set_message_idl, "{\"message\":null}", "message" },
	{ &io_greeter_set_message_idl, "{\"message\":5}", "message" },
	{ &io_greeter_set_message_idl, "{\"uid\":\"501\",\"message\":\"hi\"}", "uid" },
	{ &io_greeter_set_message_idl, "{\"uid\":0.5,\"message\":\"hi\"}", "uid" },
	{ &io_greeter_set_message_idl, "{\"message\":\"hi\",\"text\":\"hi\"}", "text" },
	{ &io_greeter_set_message_idl, "{\"message\":\"a\",\"message\":\"b\"}", "message" },
	{ &io_greeter_get_message_idl, "{}", NULL },
	{ &io_greeter_get_message_idl, "{\"uid\":[1]}", "uid" },
	{ &io_greeter_remove_message_idl, "{\"uid\":7}", NULL },
	{ &io_greeter_remove_message_idl, "{\"uid\":true}", "uid" },
	{ &io_greeter_list_messages_idl, "{}", NULL },
	{ &io_greeter_list_messages_idl, "{\"all\":true}", "all" },
	{ &io_greeter_get_status_idl, "{\"verbose\":1}", "verbose" },
	{ &io_greeter_import_messages_idl, "{\"messages\":[]}", NULL },
	/* The entries are the method's to read: it names the one at fault. */
	{ &io_greeter_import_messages_idl, "{\"messages\":[5,{}],\"replace\":true}", NULL },
	{ &io_greeter_import_messages_idl, "{\"messages\":{}}", "messages" },
	{ &io_greeter_import_messages_idl, "{\"replace\":true}", "messages" },
	{ &io_greeter_import_messages_idl, "{\"messages\":[],\"replace\":\"yes\"}", "replace" },
	{ &io_greeter_watch_events_idl,
	  "{\"uid\":1,\"comm\":\"sh\",\"unit\":\"a.service\",\"after_seq\":9,"
	  "\"stream\":\"00000000000000ab\",\"include_failed\":true}",
	  NULL },
	{ &io_greeter_watch_events_idl, "{\"comm\":1}", "comm" },
	{ &io_greeter_watch_events_idl, "{\"unit\":false}", "unit" },
	{ &io_greeter_watch_events_idl, "{\"after_seq\":1e300}", "after_seq" },
	{ &io_greeter_watch_events_idl, "{\"stream\":12}", "stream" },
	{ &io_greeter_watch_events_idl, "{\"include_failed\":1}", "include_failed" },
	{ &io_greeter_watch_events_idl, "{\"filter\":{}}", "filter" },
};

static void test_calls(void **state)
{
	/* Room for any method's struct. */
	union {
		struct io_greeter_set_message_params set;
		struct io_greeter_import_messages_params import;
		struct io_greeter_watch_events_params watch;
	} out;

	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		cJSON *p = cJSON_Parse(calls[i].parameters);
		const char *bad = "";
		int r;

		assert_non_null(p);
		assert_true(calls[i].m->parameters.size <= sizeof(out));
		r = varlink_idl_dispatch(&calls[i].m->parameters, p, &out, &bad);
		if (calls[i].bad) {
			if (r >= 0 || strcmp(bad, calls[i].bad) != 0)
				fail_msg("%s(%s): expected InvalidParameter %s, got %d %s",
					 calls[i].m->name, calls[i].parameters, calls[i].bad, r, bad);
		} else if (r != 0) {
			fail_msg("%s(%s): refused (%s)", calls[i].m->name, calls[i].parameters, bad);
		}
		cJSON_Delete(p);
	}
}

static void test_watch_events_filled(void **state)
{
	struct io_greeter_watch_events_params in;
	cJSON *p = cJSON_Parse("{\"uid\":1000,\"after_seq\":0,\"comm\":\"bash\"}");
	const char *bad = "";

	assert_int_equal(
		varlink_idl_dispatch(&io_greeter_watch_events_idl.parameters, p, &in, &bad), 0);
	assert_true(in.has_uid && in.uid == 1000);
	/* after_seq 0 is given, not absent: a resume from the stream's start. */
	assert_true(in.has_after_seq && in.after_seq == 0);
	assert_string_equal(in.comm, "bash");
	assert_null(in.unit);
	assert_false(in.include_failed);
	cJSON_Delete(p);
}

static void test_more_required(void **state)
{
	assert_true(io_greeter_watch_events_idl.requires_more);
	assert_false(io_greeter_get_status_idl.requires_more);
	assert_string_equal(IO_GREETER_WATCH_EVENTS, "io.greeter.WatchEvents");
	assert_string_equal(IO_GREETER_ERROR_TOO_MANY_CONNECTIONS, "io.greeter.TooManyConnections");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_calls),
		cmocka_unit_test(test_watch_events_filled),
		cmocka_unit_test(test_more_required),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
