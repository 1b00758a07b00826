// SPDX-License-Identifier: LGPL-2.1-or-later
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "kernel.h"

#define DEFAULT_RING_SIZE (32u << 20)
#define DEFAULT_MAX_DELAY_MS 10
#define DEFAULT_WINDOW 32768

enum {
	OPT_SOCKET = 0x100,
	OPT_RING_SIZE,
	OPT_MAX_DELAY,
	OPT_WAKEUP_BYTES,
	OPT_REPORT_FAILED,
	OPT_NO_ARGS,
	OPT_PRINT_EVENTS,
	OPT_JOURNAL_EVENTS,
	OPT_REMOVE_PINS,
	OPT_ADMIN_GROUP,
	OPT_REPLAY_WINDOW,
	OPT_CACHE_DIR,
};

static const struct option long_options[] = {
	{ "pin-dir", required_argument, NULL, 'p' },
	{ "attach", required_argument, NULL, 'a' },
	{ "state-dir", required_argument, NULL, 's' },
	{ "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "admin-group", required_argument, NULL, OPT_ADMIN_GROUP },
	{ "ring-size", required_argument, NULL, OPT_RING_SIZE },
	{ "max-delay", required_argument, NULL, OPT_MAX_DELAY },
	{ "wakeup-bytes", required_argument, NULL, OPT_WAKEUP_BYTES },
	{ "replay-window", required_argument, NULL, OPT_REPLAY_WINDOW },
	{ "report-failed", no_argument, NULL, OPT_REPORT_FAILED },
	{ "no-args", no_argument, NULL, OPT_NO_ARGS },
	{ "print-events", no_argument, NULL, OPT_PRINT_EVENTS },
	{ "journal-events", no_argument, NULL, OPT_JOURNAL_EVENTS },
	{ "remove-pins", no_argument, NULL, OPT_REMOVE_PINS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: greeterd [OPTIONS]\n"
		"\n"
		"Greets every program start: keeps the greeter BPF programs attached and\n"
		"pinned, and serves the io.greeter varlink API.\n"
		"\n"
		"Options:\n"
		"  -p, --pin-dir DIR       where the BPF objects are pinned\n"
		"                          (default " GREETER_DEFAULT_PIN_DIR ")\n"
		"  -a, --attach MODE       auto, kprobe or tracepoint (default auto: kprobe\n"
		"                          where the kernel has kprobes)\n"
		"  -s, --state-dir DIR     where messages are stored durably (default\n"
		"                          $STATE_DIRECTORY, else " GREETER_DEFAULT_STATE_DIR ")\n"
		"      --cache-dir DIR     where the kernel's types are kept for the next cold\n"
		"                          start; \"\" for none (default $CACHE_DIRECTORY,\n"
		"                          else " GREETER_DEFAULT_CACHE_DIR ")\n"
		"      --socket PATH       the API socket (default " GREETER_DEFAULT_SOCKET ")\n"
		"      --admin-group NAME  members may watch all users' events\n"
		"                          (default " GREETER_DEFAULT_ADMIN_GROUP ")\n"
		"      --ring-size BYTES   ring buffer size, a power of two; K and M suffixes\n"
		"                          (default 32M)\n"
		"      --max-delay MS      deliver each event within MS milliseconds (default 10)\n"
		"      --wakeup-bytes N    wake greeterd at once when N bytes are pending\n"
		"                          (default a quarter of the ring buffer)\n"
		"      --replay-window N   recent events retained in the ring buffer for clients\n"
		"                          that resume, at most half of it (default 32768)\n"
		"      --report-failed     also report failed exec attempts\n"
		"      --no-args           do not collect the programs' arguments (which can\n"
		"                          hold secrets): events carry none\n"
		"      --print-events      print each event on standard output\n"
		"      --journal-events    write each event to the journal as a structured entry\n"
		"      --remove-pins       detach and remove the pinned objects, then exit\n"
		"  -v, --verbose           log debug messages, libbpf's among them\n"
		"  -V, --version           print the version and exit\n"
		"  -h, --help              print this help and exit\n"
		"\n"
		"Exit status: 0 success, 1 failure, 2 usage error, 3 the kernel lacks a BPF\n"
		"feature greeterd needs.\n"
		"See greeterd(8).\n");
}

/* A size with an optional K or M suffix. */
static int parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!*s || *s == '-')
		return -EINVAL;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	unsigned shift = 0;

	if (*end == 'K' || *end == 'k')
		shift = 10, end++;
	else if (*end == 'M' || *end == 'm')
		shift = 20, end++;
	if (*end)
		return -EINVAL;
	/* A size the shift would wrap is refused, not taken modulo 2^64. */
	if (v > (ULLONG_MAX >> shift))
		return -ERANGE;
	v <<= shift;
	*out = v;
	return 0;
}

static int parse_argv(int argc, char **argv, struct daemon_options *o)
{
	unsigned long long v;
	int c;

	while ((c = getopt_long(argc, argv, "p:a:s:vVh", long_options, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->pin_dir = optarg;
			break;
		case 'a':
			if (attach_mode_parse(optarg, &o->attach) < 0) {
				fprintf(stderr,
					"greeterd: --attach must be auto, kprobe or tracepoint, "
					"not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 's':
			o->state_dir = optarg;
			break;
		case OPT_CACHE_DIR:
			o->cache_dir = optarg;
			break;
		case OPT_SOCKET:
			o->socket_path = optarg;
			break;
		case OPT_ADMIN_GROUP:
			o->admin_group = optarg;
			break;
		case OPT_RING_SIZE:
			if (parse_size(optarg, &v) < 0 || v < 4096 || v > (1ull << 30) ||
			    (v & (v - 1))) {
				fprintf(stderr,
					"greeterd: --ring-size must be a power of two between "
					"4K and 1024M, not '%s'\n",
					optarg);
				return 2;
			}
			o->ring_size = (__u32)v;
			break;
		case OPT_MAX_DELAY:
			if (parse_size(optarg, &v) < 0 || v < 1 || v > 10000) {
				fprintf(stderr,
					"greeterd: --max-delay must be 1 to 10000 "
					"milliseconds, not '%s'\n",
					optarg);
				return 2;
			}
			o->max_delay_ms = (unsigned)v;
			break;
		case OPT_WAKEUP_BYTES:
			if (parse_size(optarg, &v) < 0) {
				fprintf(stderr, "greeterd: --wakeup-bytes takes a size, not '%s'\n",
					optarg);
				return 2;
			}
			o->wakeup_bytes = v;
			o->wakeup_bytes_set = true;
			break;
		case OPT_REPLAY_WINDOW:
			if (parse_size(optarg, &v) < 0 || v < 256 || v > 1000000) {
				fprintf(stderr,
					"greeterd: --replay-window must be 256 to 1000000 "
					"events, not '%s'\n",
					optarg);
				return 2;
			}
			o->replay_window = (size_t)v;
			break;
		case OPT_REPORT_FAILED:
			o->report_failed = true;
			break;
		case OPT_NO_ARGS:
			o->no_args = true;
			break;
		case OPT_PRINT_EVENTS:
			o->print_events = true;
			break;
		case OPT_JOURNAL_EVENTS:
			o->journal_events = true;
			break;
		case OPT_REMOVE_PINS:
			o->remove_pins = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'V':
			printf("greeterd %s\n", GREETER_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'greeterd --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "greeterd: unexpected argument '%s'\nTry 'greeterd --help'.\n",
			argv[optind]);
		return 2;
	}
	return -1;
}

/* A directory systemd passes ($STATE_DIRECTORY and the like), else fallback. */
static const char *dir_from_env(const char *name, char *buf, size_t size, const char *fallback)
{
	const char *env = getenv(name);

	if (!env || !*env)
		return fallback;
	/* systemd may list several directories; the first is ours. */
	snprintf(buf, size, "%s", env);
	buf[strcspn(buf, ":")] = '\0';
	return buf;
}

int options_parse(int argc, char **argv, struct daemon_options *o)
{
	*o = (struct daemon_options){
		.pin_dir = GREETER_DEFAULT_PIN_DIR,
		.attach = GREETER_ATTACH_AUTO,
		.socket_path = GREETER_DEFAULT_SOCKET,
		.admin_group = GREETER_DEFAULT_ADMIN_GROUP,
		.ring_size = DEFAULT_RING_SIZE,
		.max_delay_ms = DEFAULT_MAX_DELAY_MS,
		.replay_window = DEFAULT_WINDOW,
	};
	o->state_dir = dir_from_env("STATE_DIRECTORY", o->state_dir_buf, sizeof(o->state_dir_buf),
				    GREETER_DEFAULT_STATE_DIR);
	o->cache_dir = dir_from_env("CACHE_DIRECTORY", o->cache_dir_buf, sizeof(o->cache_dir_buf),
				    GREETER_DEFAULT_CACHE_DIR);
	return parse_argv(argc, argv, o);
}
