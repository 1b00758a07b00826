// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * greeterctl's connection to greeterd: connect, one call and its reply, and
 * what a failure tells the user (greeterctl.h has the exit statuses).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greeterctl.h"
#include "varlink_client.h"

int ctl_connect_error(const char *prefix, const char *path, int r)
{
	if (r == -ENOENT || r == -ECONNREFUSED)
		fprintf(stderr,
			"%s: greeterd is not running (cannot connect to %s: %s); start it with: "
			"systemctl start greeterd\n",
			prefix, path, strerror(-r));
	else
		fprintf(stderr, "%s: cannot connect to greeterd at %s: %s\n", prefix, path,
			strerror(-r));
	return EXIT_NOT_RUNNING;
}

int ctl_connect(const struct ctl_options *o, struct varlink_client **c)
{
	int r;

	if (o->host)
		return ctl_ssh_connect(o, false, c);
	r = varlink_client_connect(c, o->socket_path);
	if (r < 0)
		return ctl_connect_error("greeterctl", o->socket_path, r);
	return 0;
}

int ctl_reconnect(const struct ctl_options *o, struct varlink_client **c)
{
	if (o->host)
		return ctl_ssh_connect(o, true, c);
	return varlink_client_connect(c, o->socket_path) < 0 ? EXIT_NOT_RUNNING : 0;
}

void ctl_disconnect(const struct ctl_options *o, struct varlink_client *c, bool wait)
{
	varlink_client_free(c);
	if (o->host)
		ctl_ssh_end(wait);
}

int ctl_transport_error(const char *what, int r)
{
	switch (r) {
	case -ETIMEDOUT:
		fprintf(stderr, "greeterctl: %s: greeterd did not answer within %d s\n", what,
			CALL_TIMEOUT_MS / 1000);
		return EXIT_DAEMON;
	case -ECONNRESET:
	case -EPIPE:
	case -ENOTCONN:
		fprintf(stderr, "greeterctl: %s: the connection to greeterd was lost\n", what);
		return EXIT_NOT_RUNNING;
	case -EBADMSG:
	case -EPROTO:
	case -EMSGSIZE:
		fprintf(stderr, "greeterctl: %s: greeterd sent a malformed reply\n", what);
		return EXIT_DAEMON;
	default:
		fprintf(stderr, "greeterctl: %s: %s\n", what, strerror(-r));
		return EXIT_DAEMON;
	}
}

int ctl_call_raw(const struct ctl_options *o, const char *what, const char *method, cJSON *params,
		 cJSON **reply, char **error)
{
	struct varlink_client *c = NULL;
	bool continues = false;
	int r;

	*reply = NULL;
	*error = NULL;
	r = ctl_connect(o, &c);
	if (r) {
		cJSON_Delete(params);
		return r;
	}
	r = varlink_client_call(c, method, params, 0);
	if (r >= 0)
		r = varlink_client_read_reply(c, CALL_TIMEOUT_MS, reply, error, &continues);
	if (r < 0) {
		varlink_client_free(c);
		cJSON_Delete(*reply);
		*reply = NULL;
		free(*error);
		*error = NULL;
		return ctl_connection_failed(o, what, r);
	}
	ctl_disconnect(o, c, true);
	return 0;
}

int ctl_connection_failed(const struct ctl_options *o, const char *what, int r)
{
	return o->host ? ctl_ssh_lost(what, r) : ctl_transport_error(what, r);
}

int ctl_call(const struct ctl_options *o, const char *what, const char *method, cJSON *params,
	     cJSON **reply)
{
	char *error;
	int r = ctl_call_raw(o, what, method, params, reply, &error);

	if (r == 0 && error) {
		print_daemon_error(what, error, *reply);
		cJSON_Delete(*reply);
		*reply = NULL;
		r = EXIT_DAEMON;
	}
	free(error);
	return r;
}

int out_of_memory(void)
{
	fprintf(stderr, "greeterctl: out of memory\n");
	return EXIT_DAEMON;
}
