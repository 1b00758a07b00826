/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* greeterctl: what its commands (greeterctl.c, tail.c, ...), its connection (connection.c) and printing (output.c) share. */
#ifndef GREETERCTL_H
#define GREETERCTL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct varlink_client;

/* Exit status, documented in --help and greeterctl(1). */
enum {
	EXIT_OK = 0,
	EXIT_DAEMON = 1, /* greeterd answered with an error, or not in time */
	EXIT_USAGE = 2, /* bad command line */
	EXIT_NOT_RUNNING = 3, /* greeterd cannot be reached, or went away */
	/* import: the file cannot be read or was refused, nothing changed; metrics: the output
	   file cannot be written, the old one is left */
	EXIT_BAD_FILE = 4,
	/* chain: greeterd knows no such process (it ended, or no exec of it was seen) */
	EXIT_NO_SUCH_PROCESS = 5,
};

/* Non-tail calls wait this long for greeterd's answer. */
#define CALL_TIMEOUT_MS 10000

struct ctl_options {
	const char *socket_path;
	bool socket_given; /* --socket: passed on to the remote host with --host */
	const char *host; /* --host [USER@]HOST[:PORT]: greeterd over ssh (ssh.c) */
	bool json;
	/* tail */
	bool has_uid;
	uint32_t uid;
	const char *comm;
	const char *unit;
	bool has_count;
	unsigned long long count;
	bool include_failed;
	bool has_after;
	uint64_t after;
	bool no_reconnect;
	bool exits;
	/* import */
	bool replace;
	/* metrics */
	const char *output;
};

/* connection.c */

/* Connect (locally, or with --host over ssh), printing why not on failure. Returns 0 or an exit status. */
int ctl_connect(const struct ctl_options *o, struct varlink_client **c);
/* The same without a word on failure (tail's reconnection): 0, or not 0. */
int ctl_reconnect(const struct ctl_options *o, struct varlink_client **c);
/* Free c (NULL: none) and, with --host, end its ssh (wait: let it end by itself first). */
void ctl_disconnect(const struct ctl_options *o, struct varlink_client *c, bool wait);
/* "<prefix>: greeterd is not running (cannot connect to <path>...)" for -errno r; EXIT_NOT_RUNNING. */
int ctl_connect_error(const char *prefix, const char *path, int r);
/* Print "greeterctl: <what>: connection to greeterd ..." for a failed call or read. */
int ctl_transport_error(const char *what, int r);
/* The same for a connection ctl_connect() made (c freed already): with --host, ssh's story. */
int ctl_connection_failed(const struct ctl_options *o, const char *what, int r);
/*
 * Make one call (params taken) and wait for its one reply. Returns 0 with
 * *reply (free it), or an exit status after saying what failed; an error
 * reply is printed as "greeterctl: <what>: <error>: <reason>" (status 1).
 */
int ctl_call(const struct ctl_options *o, const char *what, const char *method, cJSON *params,
	     cJSON **reply);
/* The same, but an error reply is the caller's: *error (free it) with *reply its parameters. */
int ctl_call_raw(const struct ctl_options *o, const char *what, const char *method, cJSON *params,
		 cJSON **reply, char **error);
/* Say so; returns EXIT_DAEMON. */
int out_of_memory(void);

/* ssh.c: --host */

/* Take -H's [USER@]HOST[:PORT]. Returns 0, or EXIT_USAGE after saying why. */
int ctl_ssh_set_host(const char *arg);
/* -H as given, escaped. */
const char *ctl_ssh_host_shown(void);
/*
 * Start ssh to "greeterctl stdio-bridge" and wait until greeterd answers
 * through it. quiet: ssh's standard error to /dev/null, and no word on
 * failure. Returns 0 or an exit status.
 */
int ctl_ssh_connect(const struct ctl_options *o, bool quiet, struct varlink_client **c);
/* The connection (already freed) failed with r: say why, from ssh's exit status. */
int ctl_ssh_lost(const char *what, int r);
/* End the ssh of the connection (wait: give it time to end by itself). */
void ctl_ssh_end(bool wait);

/* stdio_bridge.c */

int cmd_stdio_bridge(const struct ctl_options *o, char **args);

/* tail.c */

int cmd_tail(const struct ctl_options *o);

/* event_line.c: tail's human form */

/* The columns an event line may take: $COLUMNS, else the terminal's; 0: no limit (a pipe). */
int line_width(void);
void print_event_header(void);
/*
 * One exec event: TIME PID PARENT USER UNIT COMM FILENAME MESSAGE ARGS, the
 * arguments cut to fit columns.
 */
void print_event_line(const cJSON *event, int columns);
/* One exit event: "TIME exit  comm[pid] status=N after D" (or "killed by signal N"). */
void print_exit_line(const cJSON *event);

/* chain.c */

int cmd_chain(const struct ctl_options *o, char **args);

/* import_export.c */

int cmd_export(const struct ctl_options *o, char **args);
int cmd_import(const struct ctl_options *o, char **args);

/* metrics.c */

int cmd_metrics(const struct ctl_options *o, char **args);

/* output.c */

/* Write s escaped with greeter_escape(): nothing in it can drive the terminal. */
void print_escaped(FILE *f, const char *s);
/* Same, padded with spaces to width columns (left-aligned). */
void print_escaped_padded(FILE *f, const char *s, int width);
/* s escaped with greeter_escape() into a new string; NULL only when out of memory. */
char *escape_dup(const char *s);
/* Terminal columns of escaped (hence printable) UTF-8 text. */
int display_width(const char *s);
/* The columns of the code point at s + *i (an invalid byte: one '?'); *i moves past it. */
int next_columns(const char *s, size_t len, size_t *i);
/* n spaces (none when n <= 0). */
void print_pad(FILE *f, int n);
/* A duration for people: "1.002s", "3min 2s", "1h 0min 5s", "2d 1h 0min 0s". */
void format_duration(char *buf, size_t size, unsigned long long usec);
/* Print a reply's parameters as JSON, on one line. */
int print_json(const cJSON *params);
/* The user name of uid (from a small cache), or NULL; always NULL after user_names_off(). */
const char *user_name(uint32_t uid);
/* No user names: greeterd's host (--host) has its own. */
void user_names_off(void);

/* "greeterctl: <what>: <error>: <what it means>", for an error reply. */
void print_daemon_error(const char *what, const char *error, const cJSON *params);

/* Human output of GetMessage, ListMessages and GetStatus replies. */
void print_message(const cJSON *reply);
void print_message_list(const cJSON *reply);
void print_status(const cJSON *reply);

/* A JSON number that is a whole number in [0, max]; false otherwise. */
bool json_uint(const cJSON *v, double max, uint64_t *out);
/* A member as a string; "" (never NULL) when missing or not a string. */
const char *json_str(const cJSON *obj, const char *name);

#endif
