// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * greeterctl metrics: greeterd's GetStatus in the Prometheus text exposition
 * format (version 0.0.4), on standard output or, with --output FILE, written
 * atomically for node_exporter's textfile collector: a temporary file in the
 * same directory, fsync'd, renamed over FILE, the directory fsync'd, so that
 * a reader sees the old file or the new one, never a part.
 *
 * Every family has HELP and TYPE; units are base units (seconds, bytes);
 * counters end in _total; no label carries a user or a command. The only
 * strings from greeterd (the version, the attach mode, program names) go into
 * label values, escaped as the format says, after invalid UTF-8 is replaced.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_replace.h"
#include "greeterctl.h"
#include "utf8.h"
#include "io.greeter.varlink.h"

/* The largest whole number a double holds below 2^64. */
#define UINT_MAX_DOUBLE 18446744073709549568.0

enum metric_type {
	GAUGE,
	COUNTER
};

/* A number of GetStatus as one sample of a family with no labels. */
struct metric {
	const char *name;
	enum metric_type type;
	const char *help;
	const char *member; /* in the reply, or in its "counters" */
	bool in_counters;
	/* Older greeterds lack it, or it may be absent: the family is left out then. */
	bool optional;
	double scale; /* the value is multiplied by it (0: 1) */
};

static const struct metric metrics[] = {
	{ "greeter_uptime_seconds", GAUGE, "Seconds since greeterd started.", "uptime_usec", false,
	  false, 1e-6 },
	{ "greeter_messages", GAUGE, "Messages configured, the default message included.",
	  "messages", false, false, 0 },
	{ "greeter_watchers", GAUGE, "Open WatchEvents calls (greeterctl tail and other clients).",
	  "watchers", false, false, 0 },
	{ "greeter_ring_size_bytes", GAUGE, "Size of the BPF ring buffer the events go through.",
	  "ring_size", false, false, 0 },
	{ "greeter_ring_used_bytes", GAUGE,
	  "Bytes of the ring buffer in use (events retained for replay and not yet read); the "
	  "kernel loses events when it reaches greeter_ring_size_bytes.",
	  "ring_used", false, true, 0 },
	{ "greeter_replay_window_events", GAUGE,
	  "Most events greeterd keeps for replay to clients that resume (--replay-window).",
	  "replay_window", false, true, 0 },
	{ "greeter_replay_retained_events", GAUGE, "Events greeterd keeps for replay now.",
	  "retained", false, true, 0 },
	{ "greeter_change_log_size_bytes", GAUGE,
	  "Bytes in the change log of the messages (messages.log), until compacted into the "
	  "snapshot.",
	  "change_log_size", false, true, 0 },
	{ "greeter_process_table_size", GAUGE,
	  "Processes the process table holds at most; past it, the least recently used go.",
	  "process_table_size", false, true, 0 },
	{ "greeter_processes", GAUGE,
	  "Processes the process table holds now (execs seen, and those running when it was "
	  "made).",
	  "processes", true, true, 0 },
	{ "greeter_events_emitted_total", COUNTER,
	  "Events the BPF program put into the ring buffer (kept in the pins: across greeterd "
	  "restarts).",
	  "emitted", true, false, 0 },
	{ "greeter_events_lost_kernel_total", COUNTER,
	  "Events lost in the kernel because the ring buffer was full.", "lost_kernel", true, false,
	  0 },
	{ "greeter_failed_execs_total", COUNTER, "Exec attempts that failed.", "failed_execs", true,
	  false, 0 },
	{ "greeter_exits_total", COUNTER,
	  "Exit events the BPF program put into the ring buffer (in "
	  "greeter_events_emitted_total too).",
	  "exits", true, true, 0 },
	{ "greeter_process_table_evictions_total", COUNTER,
	  "Processes the process table let go of for room: their exits go unreported, and "
	  "children they start carry no parent.",
	  "processes_evicted", true, true, 0 },
	{ "greeter_events_received_total", COUNTER,
	  "Events this greeterd read from the ring buffer.", "received", true, false, 0 },
	{ "greeter_events_delivered_total", COUNTER,
	  "Events sent to watchers, each watcher counted.", "delivered", true, false, 0 },
	{ "greeter_events_dropped_late_total", COUNTER,
	  "Events dropped because they came after their sequence number had been given up on, "
	  "or came twice.",
	  "dropped_late", true, true, 0 },
	{ "greeter_events_repeated_total", COUNTER,
	  "Events handed on that a killed greeterd may have handed on already (the journal and "
	  "--print-events may hold them twice).",
	  "repeated", true, true, 0 },
	{ "greeter_events_malformed_total", COUNTER,
	  "Ring buffer records of the wrong size, skipped.", "malformed", true, true, 0 },
	{ "greeter_change_log_compactions_total", COUNTER,
	  "Compactions of the change log into the snapshot.", "compactions", true, true, 0 },
	{ "greeter_change_log_compaction_failures_total", COUNTER,
	  "Compactions of the change log that failed (greeterd tries again later).",
	  "compactions_failed", true, true, 0 },
};

/* A label value as the exposition format wants it: UTF-8, \\, \" and \n escaped. */
static int put_label_value(FILE *f, const char *s)
{
	size_t len = strlen(s), size = GREETER_UTF8_SANITIZED_SIZE(len);
	char *clean = malloc(size);

	if (!clean)
		return -ENOMEM;
	greeter_utf8_sanitize(clean, size, s, len);
	for (const char *p = clean; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '"')
			fputs("\\\"", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	free(clean);
	return 0;
}

static void put_family(FILE *f, const char *name, enum metric_type type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		type == COUNTER ? "counter" : "gauge");
}

/* A number member: *present false when absent; -EBADMSG when not a whole number >= 0. */
static int member_uint(const cJSON *obj, const char *name, bool *present, uint64_t *v)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);

	*present = m != NULL;
	if (!m)
		return 0;
	return json_uint(m, UINT_MAX_DOUBLE, v) ? 0 : -EBADMSG;
}

/*
 * The exposition of a GetStatus reply into f. Returns 0, -ENOMEM, or -EBADMSG
 * with *bad the member.
 */
static int format_metrics(FILE *f, const cJSON *reply, const char **bad)
{
	const cJSON *counters = cJSON_GetObjectItemCaseSensitive(reply, "counters");
	const cJSON *progs = cJSON_GetObjectItemCaseSensitive(reply, "programs"), *p;
	/* Older greeterds lack dropped_print: that sample is left out then. */
	static const struct {
		const char *sink, *member;
		bool optional;
	} sinks[] = { { "watchers", "dropped_watchers", false },
		      { "journal", "dropped_journal", false },
		      { "print", "dropped_print", true } };
	static const char *const maps[][2] = { { "config", "config_map_id" },
					       { "events", "events_map_id" },
					       { "stats", "stats_map_id" } };
	uint64_t v;
	bool present;

	if (!cJSON_IsObject(counters)) {
		*bad = "counters";
		return -EBADMSG;
	}
	*bad = "version";
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(reply, "version")))
		return -EBADMSG;
	*bad = "attach_mode";
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(reply, "attach_mode")))
		return -EBADMSG;
	put_family(f, "greeter_build_info", GAUGE,
		   "greeterd's version and how its BPF programs are attached (kprobe or "
		   "tracepoint); always 1.");
	fputs("greeter_build_info{version=\"", f);
	if (put_label_value(f, json_str(reply, "version")) < 0)
		return -ENOMEM;
	fputs("\",attach_mode=\"", f);
	if (put_label_value(f, json_str(reply, "attach_mode")) < 0)
		return -ENOMEM;
	fputs("\"} 1\n", f);

	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
		const struct metric *m = &metrics[i];

		*bad = m->member;
		if (member_uint(m->in_counters ? counters : reply, m->member, &present, &v) < 0)
			return -EBADMSG;
		if (!present && m->optional)
			continue;
		if (!present)
			return -EBADMSG;
		put_family(f, m->name, m->type, m->help);
		if (m->scale)
			fprintf(f, "%s %.6f\n", m->name, (double)v * m->scale);
		else
			fprintf(f, "%s %llu\n", m->name, (unsigned long long)v);
	}

	put_family(f, "greeter_events_dropped_total", COUNTER,
		   "Events dropped on their way to a sink: slow watchers' queues (watchers), "
		   "not written to the journal by --journal-events (journal), or to standard "
		   "output by --print-events (print).");
	for (size_t i = 0; i < sizeof(sinks) / sizeof(sinks[0]); i++) {
		*bad = sinks[i].member;
		if (member_uint(counters, sinks[i].member, &present, &v) < 0)
			return -EBADMSG;
		if (!present && sinks[i].optional)
			continue;
		if (!present)
			return -EBADMSG;
		fprintf(f, "greeter_events_dropped_total{sink=\"%s\"} %llu\n", sinks[i].sink,
			(unsigned long long)v);
	}

	/* Ids change only when the pins are made anew: one series per set of pins. */
	put_family(f, "greeter_bpf_map_info", GAUGE,
		   "The kernel's ids of greeter's BPF maps (bpftool map show id N); always 1.");
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		*bad = maps[i][1];
		if (member_uint(reply, maps[i][1], &present, &v) < 0 || !present)
			return -EBADMSG;
		fprintf(f, "greeter_bpf_map_info{map=\"%s\",map_id=\"%llu\"} 1\n", maps[i][0],
			(unsigned long long)v);
	}
	*bad = "programs";
	if (!cJSON_IsArray(progs))
		return -EBADMSG;
	put_family(f, "greeter_bpf_program_info", GAUGE,
		   "greeter's BPF programs with the kernel's ids of each and of its link; "
		   "always 1.");
	cJSON_ArrayForEach (p, progs) {
		uint64_t prog_id, link_id;

		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "name")) ||
		    member_uint(p, "program_id", &present, &prog_id) < 0 || !present ||
		    member_uint(p, "link_id", &present, &link_id) < 0 || !present)
			return -EBADMSG;
		fputs("greeter_bpf_program_info{program=\"", f);
		if (put_label_value(f, json_str(p, "name")) < 0)
			return -ENOMEM;
		fprintf(f, "\",program_id=\"%llu\",link_id=\"%llu\"} 1\n",
			(unsigned long long)prog_id, (unsigned long long)link_id);
	}
	*bad = NULL;
	return 0;
}

/* Say why FILE was not written (the old one, if any, is left); EXIT_BAD_FILE. */
static int write_failed(const char *path, const char *doing, int err)
{
	char *q = escape_dup(path);

	fprintf(stderr, "greeterctl: cannot write %s: %s: %s; the file is left as it was\n",
		q ? q : "the output file", doing, strerror(err));
	free(q);
	return EXIT_BAD_FILE;
}

/*
 * Replace path with len bytes of data: <dir>/.<name>.XXXXXX, written, fsync'd,
 * made 0644 (node_exporter reads it as another user), renamed over path, then
 * the directory fsync'd. The temporary name does not end in ".prom", so the
 * textfile collector never reads it.
 */
static int write_atomically(const char *path, const char *data, size_t len)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	char dir[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	int fd, err;

	if (!*name)
		return write_failed(path, "it names a directory, not a file", EISDIR);
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return write_failed(path, "resolving its directory", ENAMETOOLONG);
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return write_failed(path, "it is a directory", EISDIR);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >= sizeof(tmp))
		return write_failed(path, "making a temporary name", ENAMETOOLONG);

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return write_failed(path, "creating a temporary file in its directory", errno);
	err = -file_write_all(fd, data, len);
	if (err)
		goto fail;
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		err = errno;
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		err = errno;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		err = errno;
		goto fail;
	}
	/* The rename survives a crash once the directory is on disk. */
	err = -file_sync_dir(dir);
	if (err) {
		char *q = escape_dup(path);

		fprintf(stderr, "greeterctl: wrote %s, but cannot sync its directory: %s\n",
			q ? q : "the output file", strerror(err));
		free(q);
		return EXIT_BAD_FILE;
	}
	return EXIT_OK;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return write_failed(path, "writing a temporary file in its directory", err);
}

int cmd_metrics(const struct ctl_options *o, char **args)
{
	const char *what = "cannot get greeterd's status", *bad = NULL;
	char *text = NULL;
	size_t len = 0;
	cJSON *reply;
	FILE *f;
	int r;

	(void)args;
	/* Past RLIMIT_FSIZE, a write fails (EFBIG) instead of killing us half-way. */
	signal(SIGXFSZ, SIG_IGN);
	r = ctl_call(o, what, IO_GREETER_GET_STATUS, cJSON_CreateObject(), &reply);
	if (r)
		return r;
	f = open_memstream(&text, &len);
	if (!f) {
		cJSON_Delete(reply);
		return out_of_memory();
	}
	r = format_metrics(f, reply, &bad);
	cJSON_Delete(reply);
	if (fclose(f) != 0 || r == -ENOMEM) {
		free(text);
		return out_of_memory();
	}
	if (r < 0) {
		/* Nothing written: a part of the metrics would be worse than none. */
		fprintf(stderr, "greeterctl: %s: greeterd sent a malformed status (%s)\n", what,
			bad ? bad : "?");
		free(text);
		return EXIT_DAEMON;
	}
	if (o->output)
		r = write_atomically(o->output, text, len);
	else
		r = fwrite(text, 1, len, stdout) == len ? EXIT_OK : EXIT_DAEMON;
	free(text);
	return r;
}
