// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * greeterctl: shows and changes greeter's messages and follows its events,
 * through greeterd's io.greeter varlink API. Options, commands, main.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "escape.h"
#include "greeterctl.h"
#include "validate.h"
#include "varlink_client.h"
#include "io.greeter.varlink.h"

/* Help */

#define HELP_SOCKET                                                                                \
	"      --socket PATH   greeterd's socket (default $GREETER_SOCKET, else\n"                 \
	"                      " GREETER_DEFAULT_SOCKET "; with --host, on HOST)\n"              \
	"  -H, --host [USER@]HOST[:PORT]\n"                                                        \
	"                      greeterd on HOST, through ssh ($GREETER_SSH, else ssh)\n"

#define HELP_EXIT                                                                                  \
	"Exit status: 0 success; 1 greeterd returned an error or did not answer within\n"          \
	"10 s; 2 usage error; 3 greeterd is not running, cannot be reached (with\n"               \
	"--host: ssh failed, or HOST cannot run greeterctl), or the connection to it\n"           \
	"was lost; 4 (import) the file cannot be read or was refused,\n"                          \
	"and nothing was changed; (metrics --output) the file cannot be written, and\n"            \
	"the old one is left as it was; 5 (chain) greeterd knows no such process.\n"

static const char help_main[] =
	"Usage: greeterctl [OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Shows and changes the message greeter prints for every program start, and\n"
	"follows the program starts as they happen, through greeterd.\n"
	"\n"
	"Commands:\n"
	"  set UID|USER|default MESSAGE  set a user's message, or the default message\n"
	"  get [UID|USER]                show the message a user gets (default: yours)\n"
	"                                and where it comes from\n"
	"  unset UID|USER|default        remove a user's message, or the default message\n"
	"  list                          list the messages that are set\n"
	"  status                        show greeterd's state and counters\n"
	"  tail                          follow program starts (and with --exits, ends)\n"
	"                                until interrupted\n"
	"  chain PID                     show who started a running process: its\n"
	"                                parent, the parent's parent, and so on\n"
	"  export                        print every message as a messages document\n"
	"  import [--replace] FILE|-     set the messages of a document (root only)\n"
	"  metrics [--output FILE]       print greeterd's counters for Prometheus, or\n"
	"                                replace FILE with them atomically\n"
	"  stdio-bridge                  connect standard input and output to greeterd:\n"
	"                                what --host runs on the other host, over ssh\n"
	"\n"
	"Options (before or after the command):\n" HELP_SOCKET
	"      --json          print replies as JSON (get, list, status, tail, chain,\n"
	"                      import)\n"
	"  -h, --help          print this help (after a COMMAND, its help) and exit\n"
	"  -V, --version       print the version and exit\n"
	"\n"
	"tail, import and metrics have options of their own: see 'greeterctl tail\n"
	"--help'. A message that starts with '-' goes after '--'. With --host, users\n"
	"are given by UID (user names differ between hosts).\n"
	"\n" HELP_EXIT "See greeterctl(1).\n";

static const char help_set[] =
	"Usage: greeterctl set UID|USER|default MESSAGE\n"
	"\n"
	"Set the message shown for every program the user starts, or with 'default'\n"
	"the message of users who have none. MESSAGE is 1 to 63 bytes of UTF-8 without\n"
	"control characters; quote it. Root may set any message, other users only\n"
	"their own.\n"
	"\n"
	"Options:\n" HELP_SOCKET "  -h, --help          print this help and exit\n"
	"\n" HELP_EXIT;

static const char help_get[] =
	"Usage: greeterctl get [UID|USER]\n"
	"\n"
	"Show the message the user's program starts get (without an argument, yours),\n"
	"and where it comes from: own (the user's own message), default (the default\n"
	"message) or built-in (\"" GREETER_BUILTIN_MESSAGE "\", when no default is set).\n"
	"\n"
	"Options:\n" HELP_SOCKET "      --json          print greeterd's reply as JSON\n"
	"  -h, --help          print this help and exit\n"
	"\n" HELP_EXIT;

static const char help_unset[] =
	"Usage: greeterctl unset UID|USER|default\n"
	"\n"
	"Remove the user's message (the user then gets the default message), or with\n"
	"'default' the default message (users without their own then get the built-in\n"
	"\"" GREETER_BUILTIN_MESSAGE "\"). Root may remove any message, other users only\n"
	"their own.\n"
	"\n"
	"Options:\n" HELP_SOCKET "  -h, --help          print this help and exit\n"
	"\n" HELP_EXIT;

static const char help_list[] =
	"Usage: greeterctl list\n"
	"\n"
	"List the messages that are set, as a table: UID, USER, MESSAGE, by UID, the\n"
	"default message last (its UID shown as \"default\").\n"
	"\n"
	"Options:\n" HELP_SOCKET "      --json          print greeterd's reply as JSON\n"
	"  -h, --help          print this help and exit\n"
	"\n" HELP_EXIT;

static const char help_status[] =
	"Usage: greeterctl status\n"
	"\n"
	"Show greeterd's version, how the BPF programs are attached and why, the\n"
	"kernel, the pin and state directories, uptime, numbers of messages and\n"
	"watchers, ring buffer size and use, events kept for replay, the change log's\n"
	"size and compactions, program, link and map ids, and event counters.\n"
	"\n"
	"Options:\n" HELP_SOCKET "      --json          print greeterd's reply as JSON\n"
	"  -h, --help          print this help and exit\n"
	"\n" HELP_EXIT;

static const char help_tail[] =
	"Usage: greeterctl tail [OPTIONS]\n"
	"\n"
	"Follow program starts as they happen, until interrupted (SIGINT or SIGTERM end\n"
	"it with status 0). Each line: TIME PID PARENT USER UNIT COMM FILENAME MESSAGE\n"
	"ARGS. PARENT is the process that started it, as NAME[PID] (the program its\n"
	"parent, or nearest ancestor that ran one, was running; \"-\" when greeterd\n"
	"does not know). UNIT is the systemd unit or scope the program runs in (the leaf of its cgroup\n"
	"v2 path; \"-\" when none). ARGS is its command line: an argument that is empty\n"
	"or holds a space or a '\"' is shown in double quotes; \"[truncated]\" ends a\n"
	"list greeterd cut; on a terminal (or with $COLUMNS) the line is cut to fit,\n"
	"ending in \"…\". Every string is escaped so it cannot drive the terminal;\n"
	"--json prints the whole event. Users other than root and members of greeterd's\n"
	"admin group see only their own program starts.\n"
	"\n"
	"When the connection to greeterd is lost, greeterctl reconnects (retrying every\n"
	"100 ms to 1 s; with --host, to 5 s, running ssh again each time) and resumes\n"
	"after the last event it printed, so no event is shown twice; events greeterd\n"
	"no longer holds are reported as lost on stderr.\n"
	"\n"
	"With --exits, the end of each program whose start greeter saw is a line of\n"
	"its own: \"TIME exit  NAME[PID] status=N after 1.002s\", or \"killed by signal\n"
	"N\" (\"(core dumped)\" when it did) for a process a signal ended. Without it no\n"
	"exit is shown (greeterd sends none).\n"
	"\n"
	"Options:\n"
	"  -u, --user USER|UID  only this user's program starts\n"
	"      --comm NAME      only program starts by processes named NAME (their comm\n"
	"                       before the exec, at most 15 bytes)\n"
	"      --unit NAME      only program starts in the systemd unit or scope NAME,\n"
	"                       exactly (nginx.service, session-3.scope)\n"
	"  -n, --count N        exit after N events (exits count with --exits)\n"
	"      --exits          also show each program's end: its exit status or\n"
	"                       signal, and how long it ran\n"
	"      --failed         include failed exec attempts (greeterd must run with\n"
	"                       --report-failed)\n"
	"      --after SEQ      start after event number SEQ (with the events greeterd\n"
	"                       still holds)\n"
	"      --no-reconnect   exit with status 3 when the connection is lost\n"
	"      --json           print each event as a JSON object on one line\n"
	"      --socket PATH    greeterd's socket (default $GREETER_SOCKET, else\n"
	"                       " GREETER_DEFAULT_SOCKET "; with --host, on HOST)\n"
	"  -H, --host [USER@]HOST[:PORT]\n"
	"                       greeterd on HOST, through ssh ($GREETER_SSH, else ssh)\n"
	"  -h, --help           print this help and exit\n"
	"\n" HELP_EXIT;

static const char help_chain[] =
	"Usage: greeterctl chain PID\n"
	"\n"
	"Show who started the running process PID, from greeterd's process table: first\n"
	"the chain on one line, the furthest known ancestor first and PID last\n"
	"(\"sshd → bash → make → cc1\"), then one line per step: PID, COMM, UNIT,\n"
	"STARTED (the wall-clock time of its exec), EXEC ID (as greeterctl tail --json\n"
	"names the exec) and FILENAME; \"(running before greeter)\" marks a process\n"
	"that was already running when greeter's table was made (STARTED is then its\n"
	"start). The chain goes up to PID 1, or to the furthest ancestor greeterd\n"
	"knows. Root and members of greeterd's admin group may ask for any process,\n"
	"others for their own.\n"
	"\n"
	"Options:\n" HELP_SOCKET "      --json          print greeterd's reply as JSON\n"
	"  -h, --help          print this help and exit\n"
	"\n" HELP_EXIT;

static const char help_export[] =
	"Usage: greeterctl export\n"
	"\n"
	"Print every message that is set as a messages document, for a file or a pipe:\n"
	"\n"
	"  {\"version\": 1, \"messages\": {\"501\": \"Hi user 501!\", \"default\": \"Hello\"}}\n"
	"\n"
	"keys sorted by UID, \"default\" last, strings in JSON's escaping (bidirectional\n"
	"controls and line separators as \\uXXXX too), a newline at the end.\n"
	"'greeterctl import' reads it back; 'greeterctl export > msgs.json' on\n"
	"one host and 'greeterctl import --replace msgs.json' on another give the second\n"
	"the same messages.\n"
	"\n"
	"Options:\n" HELP_SOCKET "  -h, --help          print this help and exit\n"
	"\n" HELP_EXIT;

static const char help_import[] =
	"Usage: greeterctl import [--replace] FILE|-\n"
	"\n"
	"Set the messages of a messages document (as 'greeterctl export' prints it;\n"
	"'-' reads standard input), in one durable write: all of them or, when any is\n"
	"refused, none. Messages the file does not name are kept, unless --replace is\n"
	"given: then they are removed, and the messages become those of the file. Root\n"
	"only. Prints what it changed: \"added A, updated U, removed R, unchanged N\";\n"
	"or, when the messages are already as in the file, \"unchanged: N messages\n"
	"already as in FILE\", and nothing is written. Status 0 either way: a script\n"
	"tells the two apart with --json's \"changed\".\n"
	"\n"
	"A file larger than 4 MiB, that is not a messages document, or that holds an\n"
	"invalid message changes nothing (status 4): the error names the key, or the\n"
	"byte, line and column.\n"
	"\n"
	"Options:\n"
	"      --replace       remove the messages the file does not name\n" HELP_SOCKET
	"      --json          print {\"changed\": true|false, \"set\": A+U+N, \"removed\": R,\n"
	"                      \"added\": A, \"updated\": U, \"unchanged\": N}\n"
	"  -h, --help          print this help and exit\n"
	"\n" HELP_EXIT;

static const char help_metrics[] =
	"Usage: greeterctl metrics [--output FILE]\n"
	"\n"
	"Print greeterd's state and counters (those of 'greeterctl status') in the\n"
	"Prometheus text exposition format: greeter_events_emitted_total,\n"
	"greeter_events_dropped_total{sink=\"watchers\"}, greeter_ring_used_bytes,\n"
	"greeter_build_info{version,attach_mode} and the rest, each with # HELP and\n"
	"# TYPE, in base units; no label names a user or a command. With --output, FILE\n"
	"is replaced atomically instead (a temporary file in its directory, fsync'd,\n"
	"renamed over it, mode 0644): a reader such as node_exporter's textfile\n"
	"collector sees the old file or the new one, never a part. When greeterd cannot\n"
	"be asked, or FILE cannot be written, FILE is left as it was.\n"
	"\n"
	"  greeterctl metrics --output /var/lib/prometheus/node-exporter/greeter.prom\n"
	"\n"
	"greeter-metrics.timer does that every 15 s: systemctl enable --now\n"
	"greeter-metrics.timer.\n"
	"\n"
	"Options:\n"
	"  -o, --output FILE   replace FILE atomically instead of printing\n" HELP_SOCKET
	"  -h, --help          print this help and exit\n"
	"\n" HELP_EXIT;

static const char help_stdio_bridge[] =
	"Usage: greeterctl stdio-bridge [--socket PATH]\n"
	"\n"
	"Connect to greeterd's socket and copy bytes both ways between it and standard\n"
	"input and output, until greeterd closes the connection (status 0). The end\n"
	"of standard input is passed on, and greeterd still answers what it was\n"
	"asked. 'greeterctl --host HOST' runs it on HOST through ssh, as does\n"
	"varlinkctl with the address ssh-exec:HOST:greeterctl stdio-bridge. greeterd\n"
	"sees the user it runs as: over ssh, the login user, who gets what that user\n"
	"gets on HOST itself.\n"
	"\n"
	"Options:\n"
	"      --socket PATH   greeterd's socket (default $GREETER_SOCKET, else\n"
	"                      " GREETER_DEFAULT_SOCKET ")\n"
	"  -h, --help          print this help and exit\n"
	"\n"
	"Exit status: 0 greeterd closed the connection, or the client went away;\n"
	"1 standard output failed; 2 usage error (a terminal on standard input or\n"
	"output); 3 greeterd is not running or cannot be reached, or the connection\n"
	"to it failed.\n";

/* Command line */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("greeterctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'greeterctl --help'.\n", stderr);
	return EXIT_USAGE;
}

/* Quote a command-line word for an error message: it may hold anything. */
static const char *quoted(const char *s, char *buf, size_t size)
{
	greeter_escape(buf, size, s, strlen(s));
	return buf;
}

#define QUOTE_SIZE GREETER_ESCAPED_SIZE(64)

/* --host: user names are not looked up here (HOST has users of its own). */
static bool names_are_remote;

/*
 * A UID (digits, as chown(1) reads them), a user name, or with allow_default
 * the word "default" (*uid = GREETER_DEFAULT_UID). Returns 0 or EXIT_USAGE
 * after saying why.
 */
static int parse_user(const char *arg, bool allow_default, uint32_t *uid)
{
	char q[QUOTE_SIZE];
	const struct passwd *pw;
	int r;

	if (allow_default && !strcmp(arg, "default")) {
		*uid = GREETER_DEFAULT_UID;
		return 0;
	}
	if (*arg && strspn(arg, "0123456789") == strlen(arg)) {
		r = greeter_parse_uid(arg, uid);
		if (r < 0)
			return usage_error("UID %s is out of range (0 to 4294967294)",
					   quoted(arg, q, sizeof(q)));
		return 0;
	}
	if (!*arg)
		return usage_error("empty user name");
	if (names_are_remote)
		return usage_error("with --host, give the user '%s' as a UID: its name means "
				   "another user, or none, on the other host ('id -u NAME' there "
				   "prints it)",
				   quoted(arg, q, sizeof(q)));
	pw = getpwnam(arg);
	if (!pw && !strcmp(arg, "default"))
		return usage_error("'default' is not a user here; 'greeterctl list' shows the "
				   "default message");
	if (!pw)
		return usage_error("unknown user '%s'", quoted(arg, q, sizeof(q)));
	*uid = pw->pw_uid;
	return 0;
}

static int parse_number(const char *opt, const char *arg, unsigned long long min,
			unsigned long long max, unsigned long long *out)
{
	char q[QUOTE_SIZE], *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (!*arg || *arg < '0' || *arg > '9' || *end || errno || v < min || v > max)
		return usage_error("%s takes a number from %llu to %llu, not '%s'", opt, min, max,
				   quoted(arg, q, sizeof(q)));
	*out = v;
	return 0;
}

enum {
	OPT_SOCKET = 0x100,
	OPT_JSON,
	OPT_COMM,
	OPT_UNIT,
	OPT_FAILED,
	OPT_AFTER,
	OPT_NO_RECONNECT,
	OPT_EXITS,
	OPT_REPLACE,
};

static const struct option long_options[] = { { "socket", required_argument, NULL, OPT_SOCKET },
					      { "json", no_argument, NULL, OPT_JSON },
					      { "help", no_argument, NULL, 'h' },
					      { "version", no_argument, NULL, 'V' },
					      { "user", required_argument, NULL, 'u' },
					      { "comm", required_argument, NULL, OPT_COMM },
					      { "unit", required_argument, NULL, OPT_UNIT },
					      { "count", required_argument, NULL, 'n' },
					      { "failed", no_argument, NULL, OPT_FAILED },
					      { "after", required_argument, NULL, OPT_AFTER },
					      { "no-reconnect", no_argument, NULL,
						OPT_NO_RECONNECT },
					      { "exits", no_argument, NULL, OPT_EXITS },
					      { "replace", no_argument, NULL, OPT_REPLACE },
					      { "output", required_argument, NULL, 'o' },
					      { "host", required_argument, NULL, 'H' },
					      { 0 } };

struct command_line {
	struct ctl_options o;
	bool help, version;
	/* The first option of one command only seen, and that command, for the error. */
	const char *only_option, *only_command;
	/* tail -u: read once --host is known */
	const char *user_arg;
	char **args; /* command and its arguments */
	int n_args;
};

static void only_for(struct command_line *cl, const char *command, const char *option)
{
	if (!cl->only_option) {
		cl->only_option = option;
		cl->only_command = command;
	}
}

static void tail_only(struct command_line *cl, const char *option)
{
	only_for(cl, "tail", option);
}

static char prog_name[] = "greeterctl";

/* Returns -1 to go on, else the exit status. */
static int parse_command_line(int argc, char **argv, struct command_line *cl)
{
	unsigned long long v;
	int c, r;

	cl->args = calloc((size_t)argc + 1, sizeof(*cl->args));
	if (!cl->args) {
		fprintf(stderr, "greeterctl: out of memory\n");
		return EXIT_DAEMON;
	}
	/*
	 * "-": arguments come back in order as 1, so options may follow the
	 * command whatever POSIXLY_CORRECT says; "--" ends the options.
	 */
	opterr = 1;
	/* getopt's own messages then start like ours, whatever the path run. */
	argv[0] = prog_name;
	while ((c = getopt_long(argc, argv, "-hVu:n:o:H:", long_options, NULL)) != -1) {
		switch (c) {
		case 1:
			cl->args[cl->n_args++] = optarg;
			break;
		case OPT_SOCKET:
			if (!*optarg)
				return usage_error("--socket needs a path");
			cl->o.socket_path = optarg;
			cl->o.socket_given = true;
			break;
		case 'H':
			if (!*optarg)
				return usage_error("--host needs [USER@]HOST[:PORT]");
			cl->o.host = optarg;
			break;
		case OPT_JSON:
			cl->o.json = true;
			break;
		case 'h':
			cl->help = true;
			break;
		case 'V':
			cl->version = true;
			break;
		case 'u':
			tail_only(cl, "--user");
			cl->user_arg = optarg;
			break;
		case OPT_COMM:
			tail_only(cl, "--comm");
			/* The kernel keeps 15 bytes of a name: a longer one never matches. */
			if (!*optarg || strlen(optarg) >= GREETER_COMM_SIZE)
				return usage_error("--comm takes a name of 1 to %d bytes",
						   GREETER_COMM_SIZE - 1);
			cl->o.comm = optarg;
			break;
		case OPT_UNIT:
			tail_only(cl, "--unit");
			/* The kernel keeps 63 bytes of a unit (a leaf, never a path): longer never matches. */
			if (!*optarg || strlen(optarg) >= GREETER_UNIT_SIZE || strchr(optarg, '/'))
				return usage_error("--unit takes a unit name of 1 to %d bytes "
						   "without '/'",
						   GREETER_UNIT_SIZE - 1);
			cl->o.unit = optarg;
			break;
		case 'n':
			tail_only(cl, "--count");
			r = parse_number("--count", optarg, 1, ULLONG_MAX, &cl->o.count);
			if (r)
				return r;
			cl->o.has_count = true;
			break;
		case OPT_FAILED:
			tail_only(cl, "--failed");
			cl->o.include_failed = true;
			break;
		case OPT_AFTER:
			tail_only(cl, "--after");
			/* Sequence numbers travel as JSON numbers: exact up to 2^53 - 1. */
			r = parse_number("--after", optarg, 0, 9007199254740991ull, &v);
			if (r)
				return r;
			cl->o.after = v;
			cl->o.has_after = true;
			break;
		case OPT_NO_RECONNECT:
			tail_only(cl, "--no-reconnect");
			cl->o.no_reconnect = true;
			break;
		case OPT_EXITS:
			tail_only(cl, "--exits");
			cl->o.exits = true;
			break;
		case OPT_REPLACE:
			only_for(cl, "import", "--replace");
			cl->o.replace = true;
			break;
		case 'o':
			only_for(cl, "metrics", "--output");
			if (!*optarg)
				return usage_error("--output needs a file name");
			cl->o.output = optarg;
			break;
		default:
			/* getopt said what was wrong. */
			fputs("Try 'greeterctl --help'.\n", stderr);
			return EXIT_USAGE;
		}
	}
	while (optind < argc)
		cl->args[cl->n_args++] = argv[optind++];
	if (cl->o.host) {
		r = ctl_ssh_set_host(cl->o.host);
		if (r)
			return r;
		names_are_remote = true;
		user_names_off();
	}
	if (cl->user_arg) {
		r = parse_user(cl->user_arg, false, &cl->o.uid);
		if (r)
			return r;
		cl->o.has_uid = true;
	}
	return -1;
}

/* A "uid" parameter: absent for the default message, as the API has it. */
static cJSON *uid_params(uint32_t uid)
{
	cJSON *p = cJSON_CreateObject();

	if (p && uid != GREETER_DEFAULT_UID && !cJSON_AddNumberToObject(p, "uid", uid)) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

static void describe_target(char *buf, size_t size, const char *verb, uint32_t uid)
{
	if (uid == GREETER_DEFAULT_UID)
		snprintf(buf, size, "cannot %s the default message", verb);
	else
		snprintf(buf, size, "cannot %s the message for UID %u", verb, uid);
}

/* Commands */

static int cmd_set(const struct ctl_options *o, char **args)
{
	const char *message = args[1], *why = NULL;
	char what[96];
	uint32_t uid;
	cJSON *p, *reply;
	int r;

	r = parse_user(args[0], true, &uid);
	if (r)
		return r;
	/* The same check greeterd makes, to fail early and in the same words. */
	if (greeter_validate_message(message, strlen(message), &why) < 0)
		return usage_error("invalid message: %s", why);
	p = uid_params(uid);
	if (!p || !cJSON_AddStringToObject(p, "message", message)) {
		cJSON_Delete(p);
		return out_of_memory();
	}
	describe_target(what, sizeof(what), "set", uid);
	r = ctl_call(o, what, IO_GREETER_SET_MESSAGE, p, &reply);
	cJSON_Delete(reply);
	return r;
}

static int cmd_unset(const struct ctl_options *o, char **args)
{
	char what[96];
	uint32_t uid;
	cJSON *p, *reply;
	int r;

	r = parse_user(args[0], true, &uid);
	if (r)
		return r;
	p = uid_params(uid);
	if (!p)
		return out_of_memory();
	describe_target(what, sizeof(what), "remove", uid);
	r = ctl_call(o, what, IO_GREETER_REMOVE_MESSAGE, p, &reply);
	cJSON_Delete(reply);
	return r;
}

/* A read command: call, then print the reply as JSON or for people. */
static int read_and_print(const struct ctl_options *o, const char *what, const char *method,
			  cJSON *params, void (*print_human)(const cJSON *reply))
{
	cJSON *reply;
	int r = ctl_call(o, what, method, params, &reply);

	if (r)
		return r;
	if (o->json)
		r = print_json(reply);
	else
		print_human(reply);
	cJSON_Delete(reply);
	return r;
}

static int cmd_get(const struct ctl_options *o, char **args)
{
	char what[96] = "cannot get your message";
	uint32_t uid = GREETER_DEFAULT_UID;
	cJSON *p;
	int r;

	if (args[0]) {
		r = parse_user(args[0], false, &uid);
		if (r)
			return r;
		describe_target(what, sizeof(what), "get", uid);
	}
	/* Without a uid greeterd answers for the caller's. */
	p = uid_params(uid);
	if (!p)
		return out_of_memory();
	return read_and_print(o, what, IO_GREETER_GET_MESSAGE, p, print_message);
}

static int cmd_list(const struct ctl_options *o, char **args)
{
	return read_and_print(o, "cannot list the messages", IO_GREETER_LIST_MESSAGES,
			      cJSON_CreateObject(), print_message_list);
}

static int cmd_status(const struct ctl_options *o, char **args)
{
	return read_and_print(o, "cannot get greeterd's status", IO_GREETER_GET_STATUS,
			      cJSON_CreateObject(), print_status);
}

static int cmd_tail_args(const struct ctl_options *o, char **args)
{
	return cmd_tail(o);
}

static int cmd_stdio_bridge_here(const struct ctl_options *o, char **args)
{
	/* It is what runs on the other host: a bridge over a bridge makes no sense. */
	if (o->host)
		return usage_error("stdio-bridge runs on greeterd's own host and takes no "
				   "--host (greeterctl --host runs it there)");
	return cmd_stdio_bridge(o, args);
}

struct command {
	const char *name;
	int min_args, max_args;
	const char *args_text; /* for "needs ..." */
	const char *help;
	int (*run)(const struct ctl_options *o, char **args);
};

static const struct command commands[] = {
	{ "set", 2, 2, "UID|USER|default and MESSAGE", help_set, cmd_set },
	{ "get", 0, 1, "at most UID|USER", help_get, cmd_get },
	{ "unset", 1, 1, "UID|USER|default", help_unset, cmd_unset },
	{ "list", 0, 0, "no arguments", help_list, cmd_list },
	{ "status", 0, 0, "no arguments", help_status, cmd_status },
	{ "tail", 0, 0, "no arguments (only options)", help_tail, cmd_tail_args },
	{ "chain", 1, 1, "a PID", help_chain, cmd_chain },
	{ "export", 0, 0, "no arguments", help_export, cmd_export },
	{ "import", 1, 1, "a FILE (- for standard input)", help_import, cmd_import },
	{ "metrics", 0, 0, "no arguments (only options)", help_metrics, cmd_metrics },
	{ "stdio-bridge", 0, 0, "no arguments", help_stdio_bridge, cmd_stdio_bridge_here },
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Whatever went to stdout must have got there: "greeterctl list > /dev/full" fails. */
static int finish_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "greeterctl: cannot write to standard output: %s\n",
				strerror(errno));
		return status ? status : EXIT_DAEMON;
	}
	return status;
}

static int run(int argc, char **argv)
{
	struct command_line cl = { 0 };
	const struct command *cmd = NULL;
	const char *env = getenv("GREETER_SOCKET");
	char q[QUOTE_SIZE];
	int r;

	cl.o.socket_path = env && *env ? env : GREETER_DEFAULT_SOCKET;
	r = parse_command_line(argc, argv, &cl);
	if (r >= 0)
		goto out;
	/* With --host, $GREETER_SOCKET is this host's: HOST's greeterctl picks its own. */
	if (cl.o.host && !cl.o.socket_given)
		cl.o.socket_path = GREETER_DEFAULT_SOCKET;

	if (cl.n_args > 0) {
		cmd = find_command(cl.args[0]);
		if (!cmd) {
			r = usage_error("unknown command '%s'", quoted(cl.args[0], q, sizeof(q)));
			goto out;
		}
	}
	if (cl.help) {
		fputs(cmd ? cmd->help : help_main, stdout);
		r = EXIT_OK;
		goto out;
	}
	if (cl.version) {
		printf("greeterctl %s\n", GREETER_VERSION);
		r = EXIT_OK;
		goto out;
	}
	if (!cmd) {
		r = usage_error("no command given");
		goto out;
	}
	if (cl.only_option && strcmp(cmd->name, cl.only_command) != 0) {
		r = usage_error("%s is an option of %s, not of %s", cl.only_option, cl.only_command,
				cmd->name);
		goto out;
	}
	if (cl.n_args - 1 < cmd->min_args) {
		r = usage_error("%s needs %s", cmd->name, cmd->args_text);
		goto out;
	}
	if (cl.n_args - 1 > cmd->max_args) {
		r = usage_error("%s takes %s; unexpected argument '%s'%s", cmd->name,
				cmd->args_text, quoted(cl.args[cmd->max_args + 1], q, sizeof(q)),
				!strcmp(cmd->name, "set") ? " (quote a message with spaces)" : "");
		goto out;
	}
	r = cmd->run(&cl.o, cl.args + 1);
out:
	free(cl.args);
	return finish_stdout(r);
}

int main(int argc, char **argv)
{
	/* For display widths of UTF-8 text only; messages stay in English. */
	setlocale(LC_CTYPE, "");
	/* A dead connection or closed stdout shows up as EPIPE, not as death. */
	signal(SIGPIPE, SIG_IGN);
	return run(argc, argv);
}
