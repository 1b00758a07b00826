// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * reference: user space of the minimal libbpf program greeter is measured
 * against. Loads and attaches reference.bpf.c, sets a default message,
 * prints "attached prog_id=N", then drains the ring buffer every
 * DRAIN_MS milliseconds and prints one line per event:
 *
 *   BOOT_NS PID UID COMM FILENAME MESSAGE
 *
 *   reference [-i DRAIN_MS] [-m DEFAULT_MESSAGE] [-q]
 *
 * Stops on SIGINT or SIGTERM after a last drain.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>
#include "reference.h"
/* The generated skeleton embeds the object as one long string. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Woverlength-strings"
#include "reference.skel.h"
#pragma GCC diagnostic pop

static volatile sig_atomic_t stop;
static int quiet;

static void on_signal(int sig)
{
	stop = 1;
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct ref_event *e = data;

	if (size < sizeof(*e) || quiet)
		return 0;
	/* The kernel NUL-terminates; the precision bounds a bad record anyway. */
	printf("%llu %u %u %.*s %.*s %.*s\n", (unsigned long long)e->boot_ns, e->pid, e->uid,
	       REF_COMM_SIZE, e->comm, REF_FILENAME_SIZE, e->filename, REF_MESSAGE_SIZE,
	       e->message);
	return 0;
}

__attribute__((format(printf, 2, 0))) static int libbpf_print(enum libbpf_print_level level,
							      const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	struct ref_message msg = { .text = "Hello from the reference" };
	__u32 key = REF_DEFAULT_UID, len;
	struct bpf_prog_info info;
	struct reference_bpf *skel;
	struct ring_buffer *rb = NULL;
	struct timespec pause = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	long drain_ms = 10;
	int c, err = 1;

	while ((c = getopt(argc, argv, "i:m:q")) != -1) {
		switch (c) {
		case 'i':
			drain_ms = strtol(optarg, NULL, 10);
			break;
		case 'm':
			snprintf(msg.text, sizeof(msg.text), "%s", optarg);
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			fprintf(stderr,
				"Usage: reference [-i DRAIN_MS] [-m DEFAULT_MESSAGE] [-q]\n");
			return 2;
		}
	}
	if (drain_ms < 1)
		drain_ms = 1;
	pause.tv_sec = drain_ms / 1000;
	pause.tv_nsec = (drain_ms % 1000) * 1000000L;
	/* No SA_RESTART: the signal cuts the sleep short. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	libbpf_set_print(libbpf_print);

	skel = reference_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "reference: cannot load: %s\n", strerror(errno));
		return 1;
	}
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.messages), &key, &msg, BPF_ANY) < 0) {
		fprintf(stderr, "reference: cannot set the message: %s\n", strerror(errno));
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, NULL, NULL);
	if (!rb) {
		fprintf(stderr, "reference: ring buffer: %s\n", strerror(errno));
		goto out;
	}
	if (reference_bpf__attach(skel) < 0) {
		fprintf(stderr, "reference: cannot attach: %s\n", strerror(errno));
		goto out;
	}
	memset(&info, 0, sizeof(info));
	len = sizeof(info);
	bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.ref_exec), &info, &len);
	printf("attached prog_id=%u\n", info.id);
	fflush(stdout);

	while (!stop) {
		nanosleep(&pause, NULL);
		if (ring_buffer__consume(rb) > 0)
			fflush(stdout);
	}
	ring_buffer__consume(rb);
	fflush(stdout);
	err = 0;
out:
	ring_buffer__free(rb);
	reference_bpf__destroy(skel);
	return err;
}
