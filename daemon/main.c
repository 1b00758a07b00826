// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * greeterd: keeps the greeter BPF programs attached and pinned, and serves
 * the greeter API. Reads top to bottom as its life: options, kernel objects,
 * messages, event stream, API, main loop, shutdown.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "kernel.h"
#include "clock.h"
#include "eventlog.h"
#include "log.h"
#include "store.h"
#include "options.h"

#define STATUS_INTERVAL_USEC (5 * 1000 * 1000)

struct daemon {
	struct daemon_options opt;
	int state_lock_fd; /* holds the lock that keeps a second greeterd out */
	sd_event *loop;
	struct pins *pins;
	struct messages *messages;
	struct events *events;
	struct api *api;
	uint64_t start_usec; /* CLOCK_MONOTONIC */
	uint64_t attached_usec; /* CLOCK_MONOTONIC */
	uint64_t ready_usec; /* CLOCK_MONOTONIC */
	uint64_t start_realtime_usec;
};

/*
 * Each client is a file descriptor: take the hard limit, as systemd expects
 * of services, or a few users holding connections would lock out the rest.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warning("cannot raise the open file limit: %s", strerror(errno));
	}
}

static void store_read_pos(uint64_t pos, uint64_t until, void *userdata)
{
	struct daemon *d = userdata;
	int r = pins_store_read_pos(d->pins, pos, until);

	if (r < 0)
		log_warning("cannot keep the ring's read position: %s", strerror(-r));
}

/* Said once attached: a kernel greeterd refuses gets its one sentence alone. */
static void log_state_read(const struct greeter_entries *entries,
			   const struct store_load *load)
{
	if (!*load->refusal)
		log_info("read %zu message(s) from the state (%zu change(s) replayed from the "
			 "change log) in %.1f ms",
			 entries->count, load->replayed, load->usec / 1000.0);
}

/*
 * Cut the kernel's types down for the next cold start (after a reboot, say),
 * once per kernel. Done after READY=1, so this start does not wait for it.
 */
static void write_btf_cache(struct daemon *d, const char *path)
{
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	size_t elf_size = 0;
	const void *elf = pins_object_elf(&elf_size);
	char err[512] = "";

	if (btf_cache_write(d->opt.cache_dir, path, elf, elf_size, err, sizeof(err)) < 0) {
		log_warning("cannot write the kernel type cache: %s; cold starts stay slower", err);
		return;
	}
	log_info("wrote the kernel types the programs use to %s (%.1f ms)", path,
		 (double)(now_usec(CLOCK_MONOTONIC) - t0) / 1000.0);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;

	log_info("received %s, shutting down", strsignal((int)si->ssi_signo));
	sd_notify(0, "STOPPING=1\nSTATUS=Shutting down");
	return sd_event_exit(d->loop, 0);
}

/* The STATUS= line of the service manager: at start, on every change, and every 5 s. */
static void notify_status(struct daemon *d)
{
	__u64 stats[GREETER_STAT_MAX] = { 0 };

	pins_read_stats(d->pins, stats);
	sd_notifyf(0, "STATUS=Attached (%s), %zu message(s)%s, %llu event(s), %llu lost",
		   attach_mode_name(pins_mode(d->pins)), messages_count(d->messages),
		   *messages_refusal(d->messages) ? " (changes refused: see the log)" : "",
		   (unsigned long long)stats[GREETER_STAT_EMITTED],
		   (unsigned long long)stats[GREETER_STAT_LOST]);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	notify_status(userdata);
	return sd_event_source_set_time_relative(s, STATUS_INTERVAL_USEC);
}

/* A batch of changes is on disk and applied. */
static void on_messages_changed(void *userdata)
{
	notify_status(userdata);
}

static int setup_loop(struct daemon *d)
{
	sigset_t mask;
	int r;

	r = sd_event_default(&d->loop);
	if (r < 0)
		return r;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((r = sd_event_add_signal(d->loop, NULL, SIGTERM, on_signal, d)) < 0 ||
	    (r = sd_event_add_signal(d->loop, NULL, SIGINT, on_signal, d)) < 0)
		return r;
	r = sd_event_add_time_relative(d->loop, NULL, CLOCK_MONOTONIC, STATUS_INTERVAL_USEC,
				       1000000, on_status_timer, d);
	if (r < 0)
		return r;
	/* Pings the watchdog when WatchdogSec= is set. */
	return sd_event_set_watchdog(d->loop, true);
}

static void kernel_status(void *userdata, struct kernel_status *out)
{
	struct daemon *d = userdata;

	pins_status(d->pins, out);
}

static void kernel_stream(void *userdata, __u64 *last_seq, __u64 *stream_id)
{
	struct daemon *d = userdata;

	pins_stream(d->pins, last_seq, stream_id);
}

static int kernel_process_chain(void *userdata, __u32 pid, struct kernel_process *out, size_t max)
{
	struct daemon *d = userdata;

	return pins_process_chain(d->pins, pid, out, max);
}

/* Serve the API on the socket the service manager passed, or on our own. */
static int start_api(struct daemon *d)
{
	struct api_options o = {
		.loop = d->loop,
		.listen_fd = -1,
		.socket_path = d->opt.socket_path,
		.admin_group = d->opt.admin_group,
		.state_dir = d->opt.state_dir,
		.replay_window = d->opt.replay_window,
		.start_usec = d->start_usec,
		.messages = d->messages,
		.events = d->events,
		.kernel_status = kernel_status,
		.kernel_stream = kernel_stream,
		.kernel_process_chain = kernel_process_chain,
		.kernel_userdata = d,
	};
	int n = sd_listen_fds(1);

	if (n > 1) {
		log_error("received %d sockets from the service manager; expected one", n);
		return -EINVAL;
	}
	if (n == 1)
		o.listen_fd = SD_LISTEN_FDS_START;
	return api_start(&d->api, &o);
}

static void log_not_permitted(void)
{
	log_error("not permitted: greeterd needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN to "
		  "mount)");
}

/* Returns the exit status, or a negative errno on failure. */
static int run(struct daemon *d)
{
	struct greeter_entries initial = { 0 };
	struct store_load load;
	struct pins_options po = { 0 };
	struct events_options eo = { 0 };
	char btf_cache[PATH_MAX] = "";
	bool compact = false;
	int r;

	d->start_usec = now_usec(CLOCK_MONOTONIC);
	d->start_realtime_usec = now_usec(CLOCK_REALTIME);
	r = store_load(d->opt.state_dir, &initial, &load, &d->state_lock_fd);
	if (r < 0)
		return r;

	po.pin_dir = d->opt.pin_dir;
	po.attach = d->opt.attach;
	po.ring_size = d->opt.ring_size;
	po.initial = &initial;
	if (*d->opt.cache_dir) {
		r = btf_cache_path(d->opt.cache_dir, pins_build_id(), btf_cache, sizeof(btf_cache));
		if (r < 0)
			log_debug("no kernel type cache: %s", r == -ENOENT ? "the kernel has no build ID" : strerror(-r));
		else if (access(btf_cache, R_OK) == 0)
			po.btf_path = btf_cache;
	}
	po.settings.wakeup_bytes =
		d->opt.wakeup_bytes_set ? d->opt.wakeup_bytes : d->opt.ring_size / 4;
	po.settings.flags = (d->opt.report_failed ? GREETER_SETTING_REPORT_FAILED : 0) |
			    (d->opt.no_args ? GREETER_SETTING_NO_ARGS : 0);
	r = pins_open(&d->pins, &po);
	if (r < 0 && d->pins && *pins_refusal(d->pins)) {
		sd_notifyf(0, "STATUS=Refused: %s", pins_refusal(d->pins));
		r = KERNEL_PROBE_EXIT_LACKING;
		goto out;
	}
	if (r < 0) {
		if (r == -EPERM)
			log_not_permitted();
		goto out;
	}
	d->attached_usec = now_usec(CLOCK_MONOTONIC);
	log_state_read(&initial, &load);
	log_info("attached in %.1f ms (%s%s)", (double)(d->attached_usec - d->start_usec) / 1000.0,
		 pins_attach_reason(d->pins),
		 pins_btf_from_cache(d->pins) ? "; kernel types from the cache" : "");

	r = messages_new(&d->messages, pins_config_fd(d->pins), d->opt.state_dir,
			 d->state_lock_fd);
	if (r < 0)
		goto out;
	messages_on_changed(d->messages, on_messages_changed, d);
	if (*load.refusal)
		messages_refuse(d->messages, load.refusal);
	/* After a reboot the map was seeded from the files; kept, it is checked against them. */
	r = messages_start(d->messages, &initial, &load, pins_messages_kept(d->pins), &compact);
	if (r < 0) {
		log_error("cannot read the config map: %s", strerror(-r));
		goto out;
	}
	r = setup_loop(d);
	if (r < 0) {
		log_error("cannot set up the event loop: %s", strerror(-r));
		goto out;
	}
	eo.max_delay_usec = (uint64_t)d->opt.max_delay_ms * 1000;
	eo.window = d->opt.replay_window;
	{
		__u64 pos = 0, until = 0;

		pins_read_pos(d->pins, &pos, &until);
		eo.read_pos = pos;
		eo.handed_until = until;
	}
	eo.store_pos = store_read_pos;
	eo.userdata = d;
	r = events_start(&d->events, d->loop, pins_events_fd(d->pins), &eo);
	if (r < 0)
		goto out;
	if (d->opt.print_events) {
		r = print_sink_start(d->loop, d->events, STDOUT_FILENO);
		if (r < 0)
			goto out;
	}
	if (d->opt.journal_events)
		events_add_sink(d->events, journal_event, d);
	r = start_api(d);
	if (r < 0)
		goto out;
	/* Everything else is ready: only now may a new pin set take the old one's place. */
	r = pins_commit(d->pins);
	if (r < 0) {
		api_stop(d->api);
		goto out;
	}
	/* Where the map won, the files are brought in line with it. */
	messages_open_log(d->messages, d->loop, compact);
	greeter_entries_free(&initial);

	/* Events that waited in a replaced ring, then those that waited in ours. */
	{
		__u64 read_pos;
		unsigned abi;
		int old_ring = pins_old_ring(d->pins, &read_pos, &abi);

		if (old_ring >= 0)
			events_drain_fd(d->events, old_ring, read_pos, abi);
	}
	events_drain(d->events);

	d->ready_usec = now_usec(CLOCK_MONOTONIC);
	log_info("ready in %.1f ms", (double)(d->ready_usec - d->start_usec) / 1000.0);
	sd_notify(0, "READY=1");
	notify_status(d);
	if (*btf_cache && (!po.btf_path || pins_btf_cache_failed(d->pins)))
		write_btf_cache(d, btf_cache);

	r = sd_event_loop(d->loop);
	events_drain(d->events);
	api_stop(d->api);
	messages_free(d->messages);
	return r;
out:
	/* A start that failed after the messages were taken in: let go of them. */
	messages_free(d->messages);
	greeter_entries_free(&initial);
	return r;
}

int main(int argc, char **argv)
{
	struct daemon d = { .state_lock_fd = -1 };
	int r;

	r = options_parse(argc, argv, &d.opt);
	if (r >= 0)
		return r;
	log_init(d.opt.verbose);
	libbpf_log_init();
	raise_fd_limit();

	if (d.opt.remove_pins)
		return pins_remove(d.opt.pin_dir) < 0 ? 1 : 0;

	r = run(&d);
	print_sink_stop();
	events_free(d.events);
	pins_free(d.pins);
	if (d.state_lock_fd >= 0)
		close(d.state_lock_fd);
	sd_event_unref(d.loop);
	if (r < 0) {
		sd_notifyf(0, "STATUS=Failed: %s\nERRNO=%d", strerror(-r), -r);
		return 1;
	}
	return r;
}
