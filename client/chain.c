// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * greeterctl chain PID: who started a live process, from greeterd's process
 * table (GetProcessChain): "sshd → bash → make → cc1", then one line per step.
 */
#include <errno.h>
#include <langinfo.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "greeterctl.h"
#include "io.greeter.varlink.h"

/* One step, its strings escaped for the terminal. */
struct step {
	char pid[16];
	char started[48];
	char *comm, *unit, *exec_id, *filename;
	bool seeded;
};

/* "→" where the terminal shows UTF-8, else "->". */
static const char *arrow(void)
{
	return strcmp(nl_langinfo(CODESET), "UTF-8") ? "->" : "→";
}

static void format_start(char *buf, size_t size, const cJSON *p)
{
	uint64_t usec;
	struct tm tm;
	time_t secs;
	char t[32];

	snprintf(buf, size, "?");
	if (!json_uint(cJSON_GetObjectItemCaseSensitive(p, "timestamp_usec"), 9007199254740991.0,
		       &usec))
		return;
	secs = (time_t)(usec / 1000000);
	if (localtime_r(&secs, &tm) && strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, size, "%s.%03u", t, (unsigned)(usec / 1000 % 1000));
}

static bool step_fill(struct step *s, const cJSON *p)
{
	uint64_t pid;
	const char *unit = json_str(p, "unit");

	if (json_uint(cJSON_GetObjectItemCaseSensitive(p, "pid"), 4294967295.0, &pid))
		snprintf(s->pid, sizeof(s->pid), "%llu", (unsigned long long)pid);
	else
		snprintf(s->pid, sizeof(s->pid), "?");
	format_start(s->started, sizeof(s->started), p);
	s->seeded = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "seeded"));
	/* Kernel strings, hostile as ever. */
	s->comm = escape_dup(json_str(p, "comm"));
	s->unit = escape_dup(*unit ? unit : "-");
	s->exec_id = escape_dup(json_str(p, "exec_id"));
	s->filename = escape_dup(json_str(p, "filename"));
	return s->comm && s->unit && s->exec_id && s->filename;
}

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

/* steps[0] is the process, the last its furthest known ancestor: printed root first. */
static void print_chain(const struct step *steps, int n)
{
	int w_pid = 3, w_comm = 4, w_unit = 4, w_started = 7, w_id = 7;

	for (int i = n - 1; i > 0; i--)
		printf("%s %s ", steps[i].comm, arrow());
	printf("%s\n", steps[0].comm);
	for (int i = 0; i < n; i++) {
		w_pid = max_int(w_pid, (int)strlen(steps[i].pid));
		w_comm = max_int(w_comm, display_width(steps[i].comm));
		w_unit = max_int(w_unit, display_width(steps[i].unit));
		w_started = max_int(w_started, (int)strlen(steps[i].started));
		w_id = max_int(w_id, display_width(steps[i].exec_id));
	}
	printf("%*s  %-*s  %-*s  %-*s  %-*s  %s\n", w_pid, "PID", w_comm, "COMM", w_unit, "UNIT",
	       w_started, "STARTED", w_id, "EXEC ID", "FILENAME");
	for (int i = n - 1; i >= 0; i--) {
		const struct step *s = &steps[i];

		printf("%*s  %s", w_pid, s->pid, s->comm);
		print_pad(stdout, w_comm - display_width(s->comm));
		printf("  %s", s->unit);
		print_pad(stdout, w_unit - display_width(s->unit));
		printf("  %-*s  %s", w_started, s->started, s->exec_id);
		print_pad(stdout, w_id - display_width(s->exec_id));
		printf("  %s%s\n", s->filename, s->seeded ? " (running before greeter)" : "");
	}
}

static int print_human(const cJSON *reply)
{
	const cJSON *chain = cJSON_GetObjectItemCaseSensitive(reply, "chain"), *p;
	int n = cJSON_GetArraySize(chain), i = 0, r = EXIT_OK;
	struct step *steps;

	if (!cJSON_IsArray(chain) || n == 0) {
		fprintf(stderr,
			"greeterctl: greeterd sent a process chain greeterctl cannot read\n");
		return EXIT_DAEMON;
	}
	steps = calloc((size_t)n, sizeof(*steps));
	if (!steps)
		return out_of_memory();
	cJSON_ArrayForEach (p, chain) {
		if (!step_fill(&steps[i++], p)) {
			r = out_of_memory();
			goto out;
		}
	}
	print_chain(steps, n);
out:
	for (i = 0; i < n; i++) {
		free(steps[i].comm);
		free(steps[i].unit);
		free(steps[i].exec_id);
		free(steps[i].filename);
	}
	free(steps);
	return r;
}

int cmd_chain(const struct ctl_options *o, char **args)
{
	char what[64], *error = NULL, *end;
	cJSON *p, *reply = NULL;
	long long pid;
	int r;

	/* A pid as the kernel has them: 1 to 2^31 - 1 (pid_max is at most 2^22). */
	errno = 0;
	pid = strtoll(args[0], &end, 10);
	if (args[0][0] < '0' || args[0][0] > '9' || *end || errno || pid < 1 || pid > 2147483647) {
		char *e = escape_dup(args[0]);

		fprintf(stderr,
			"greeterctl: chain takes a PID, a number from 1 to 2147483647, not '%s'\n"
			"Try 'greeterctl --help'.\n",
			e ? e : "?");
		free(e);
		return EXIT_USAGE;
	}
	p = cJSON_CreateObject();
	if (!p || !cJSON_AddNumberToObject(p, "pid", (double)pid)) {
		cJSON_Delete(p);
		return out_of_memory();
	}
	snprintf(what, sizeof(what), "cannot get the chain of process %lld", pid);
	r = ctl_call_raw(o, what, IO_GREETER_GET_PROCESS_CHAIN, p, &reply, &error);
	if (r)
		goto out;
	if (error && !strcmp(error, IO_GREETER_ERROR_NO_SUCH_PROCESS)) {
		fprintf(stderr,
			"greeterctl: %s: greeterd knows no process %lld (it is not running, or "
			"greeter saw no exec of it)\n",
			what, pid);
		r = EXIT_NO_SUCH_PROCESS;
	} else if (error) {
		print_daemon_error(what, error, reply);
		r = EXIT_DAEMON;
	} else if (o->json) {
		r = print_json(reply);
	} else {
		r = print_human(reply);
	}
out:
	free(error);
	cJSON_Delete(reply);
	return r;
}
