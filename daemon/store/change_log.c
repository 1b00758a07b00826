// SPDX-License-Identifier: LGPL-2.1-or-later
#include "change_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "change_record.h"
#include "child.h"
#include "clock.h"
#include "err_text.h"
#include "file_read.h"
#include "file_replace.h"
#include "log.h"
#include "log_writer.h"
#include "state_file.h"

/* Below this, a log is never worth compacting. */
#define LOG_COMPACT_MIN (256u << 10)
/* A log larger than this is not read (nor written by us: we compact far earlier). */
#define LOG_READ_MAX (256u << 20)
/* After a failed compaction, wait this long before the next try. */
#define COMPACT_RETRY_USEC (30ull * 1000 * 1000)
#define OLD_LOG_PREFIX CHANGE_LOG_NAME "."

/* <dir>/<name>; a path too long comes out cut, and then fails to open. */
static void path_of(char path[PATH_MAX], const char *dir, const char *name)
{
	int n = snprintf(path, PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= PATH_MAX)
		path[0] = '\0';
}

static void old_name(char name[32], unsigned k)
{
	snprintf(name, 32, OLD_LOG_PREFIX "%u", k);
}

__attribute__((format(printf, 2, 3))) static void refuse(struct store_load *res,
							 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->refusal, sizeof(res->refusal), fmt, ap);
	va_end(ap);
}

struct change_log {
	char dir[PATH_MAX];
	char path[PATH_MAX]; /* messages.log */
	int lock_fd; /* the state directory's lock: the children hold it too */
	sd_event *loop;
	uint64_t size;
	uint64_t snapshot_size;
	/* messages.log.<old_min .. old_next-1> may exist (logs awaiting compaction). */
	unsigned old_min, old_next;
	bool due; /* compact at the next chance, however small the log */
	bool stopping, stopped; /* shutting down: no new compaction; no more writes */
	change_log_written_fn written;
	void *userdata;

	/* The write: taken (busy), held while messages.log is renamed, or in the writer. */
	bool busy;
	char *job_data;
	size_t job_len;
	struct log_writer *writer;

	/* The compaction in flight; rotating: messages.log not yet renamed. */
	struct child compactor;
	bool rotating;
	unsigned compact_upto;
	uint64_t compact_usec, compact_failed_usec;
	/* Compactions done and failed, since open (GetStatus). */
	uint64_t compactions, compactions_failed;
};

/* The N of a name "messages.log.<N>", or 0. */
static unsigned old_log_number(const char *name)
{
	const char *p = name + strlen(OLD_LOG_PREFIX);
	unsigned long v;
	char *end;

	if (strncmp(name, OLD_LOG_PREFIX, strlen(OLD_LOG_PREFIX)) != 0 || *p < '1' || *p > '9')
		return 0;
	errno = 0;
	v = strtoul(p, &end, 10);
	if (errno || *end || v > 1000000000ul)
		return 0;
	return (unsigned)v;
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* The numbers of messages.log.<N> in dir, ascending; *n of them (bounded). */
static int old_logs(const char *dir, unsigned *nums, size_t max, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		unsigned v = old_log_number(de->d_name);

		if (v && *n == max) {
			closedir(d);
			return -EMFILE;
		}
		if (v)
			nums[(*n)++] = v;
	}
	closedir(d);
	qsort(nums, *n, sizeof(*nums), cmp_unsigned);
	return 0;
}

#define OLD_LOGS_MAX 1024

/* Replay one log file onto out. Returns false when it could not be read. */
static bool replay_file(const char *dir, const char *name, bool current,
			struct greeter_entries *out, struct store_load *res)
{
	char path[PATH_MAX], err[512] = "", aside[PATH_MAX];
	struct change_log_replay rp;
	char *buf = NULL;
	size_t len = 0;
	int r;

	path_of(path, dir, name);
	r = file_read_all(path, LOG_READ_MAX, &buf, &len, err, sizeof(err));
	if (r == 1)
		return true;
	if (r < 0) {
		refuse(res,
		       "the change log %s could not be read (%s); greeterd refuses changes "
		       "rather than lose what it holds: make it readable (or move it away) and "
		       "restart greeterd",
		       path, err);
		return false;
	}
	r = change_log_replay(buf, len, out, &rp);
	free(buf);
	if (r < 0) {
		refuse(res, "the change log %s could not be replayed: %s; restart greeterd", path,
		       strerror(-r));
		return false;
	}
	res->replayed += rp.applied;
	if (rp.damaged) {
		r = state_file_move_aside(dir, name, aside, sizeof(aside));
		if (r < 0) {
			log_error("change log %s: %s; cannot move it aside: %s", path, rp.why,
				  strerror(-r));
			refuse(res,
			       "the change log %s is damaged (%s) and could not be moved aside; "
			       "move it away and restart greeterd",
			       path, rp.why);
			return false;
		}
		log_error("change log %s: %s; applied the %zu record(s) before it, and moved the "
			  "file to %s",
			  path, rp.why, rp.applied, aside);
		res->compact_needed = true;
	} else if (rp.torn) {
		log_warning("change log %s: its last record is incomplete (greeterd stopped while "
			    "writing it, before acknowledging it); dropped it",
			    path);
		if (current && truncate(path, (off_t)rp.good_len) < 0)
			log_warning("cannot cut the incomplete record off %s: %s", path,
				    strerror(errno));
	}
	return true;
}

static void move_logs_aside(const char *state_dir, struct store_load *res)
{
	unsigned nums[OLD_LOGS_MAX];
	char name[32], aside[PATH_MAX];
	size_t n = 0;

	old_logs(state_dir, nums, OLD_LOGS_MAX, &n);
	for (size_t i = 0; i <= n; i++) {
		int r;

		if (i < n)
			old_name(name, nums[i]);
		else
			snprintf(name, sizeof(name), "%s", CHANGE_LOG_NAME);
		r = state_file_move_aside(state_dir, name, aside, sizeof(aside));
		if (r == 0)
			log_error("moved the change log %s/%s, which followed the damaged state "
				  "file, to %s",
				  state_dir, name, aside);
		else if (r != -ENOENT)
			refuse(res,
			       "the change log %s/%s could not be moved aside (%s): move it "
			       "away and restart greeterd",
			       state_dir, name, strerror(-r));
	}
}

void change_log_load(const char *state_dir, struct greeter_entries *out,
		     struct store_load *res)
{
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	char err[768] = "", path[PATH_MAX];
	unsigned nums[OLD_LOGS_MAX];
	size_t n = 0;
	int r;

	memset(res, 0, sizeof(*res));
	r = state_file_load(state_dir, out, err, sizeof(err));
	path_of(path, state_dir, STATE_FILE_NAME);
	if (r == -EBADMSG) {
		log_error("state file: %s; starting without its messages", err);
		if (access(path, F_OK) == 0) {
			refuse(res,
			       "the state file %s is damaged and could not be moved aside; "
			       "greeterd will not replace it: move it away and restart greeterd",
			       path);
			return;
		}
		/* The logs hold changes to what was lost: alone they would make a set that
		 * never was. They go aside with it. */
		move_logs_aside(state_dir, res);
		return;
	} else if (r == -EINVAL) {
		log_error("cannot read the state file: %s; leaving it as it is", err);
		refuse(res,
		       "%s is not a regular file, so greeterd has not read the messages and will "
		       "not replace it: move it away and restart greeterd",
		       path);
		return;
	} else if (r < 0) {
		log_error("cannot read the state file: %s; leaving it as it is", err);
		refuse(res,
		       "the state file could not be read (%s), so greeterd will not replace it: "
		       "make it readable and restart greeterd",
		       err);
		return;
	}
	res->found = r == 0;
	r = old_logs(state_dir, nums, OLD_LOGS_MAX, &n);
	if (r < 0) {
		refuse(res,
		       "the state directory %s could not be listed (%s): make it readable and "
		       "restart greeterd",
		       state_dir, strerror(-r));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char name[32];

		old_name(name, nums[i]);
		if (!replay_file(state_dir, name, false, out, res))
			return;
	}
	if (!replay_file(state_dir, CHANGE_LOG_NAME, true, out, res))
		return;
	res->found |= res->replayed > 0;
	res->usec = (double)(now_usec(CLOCK_MONOTONIC) - t0);
}

/* Writing */

static void write_finished(struct change_log *log, int r, const char *err)
{
	log->busy = false;
	log->written(log->userdata, r, err);
}

static void on_write_done(void *userdata, int r, const char *err, uint64_t size)
{
	struct change_log *log = userdata;

	if (r == 0)
		log->size = size;
	write_finished(log, r, err);
}

static void start_write(struct change_log *log)
{
	log_writer_write(log->writer, log->job_data, log->job_len, log->size);
	/* The writer has its copy. */
	free(log->job_data);
	log->job_data = NULL;
}

int change_log_write(struct change_log *log, char *data, size_t len)
{
	if (log->busy || log->stopped) {
		free(data);
		return log->busy ? -EBUSY : -ESHUTDOWN;
	}
	log->busy = true;
	log->job_data = data;
	log->job_len = len;
	if (!log->rotating)
		start_write(log);
	return 0;
}

bool change_log_busy(const struct change_log *log)
{
	return log->busy;
}

bool change_log_stopped(const struct change_log *log)
{
	return log->stopped;
}

/* At shutdown: a write still going is given up, and its caller told so. */
static void give_up_write(struct change_log *log)
{
	if (log_writer_busy(log->writer)) {
		log_writer_give_up(log->writer);
		return;
	}
	/* Held for a rotation that did not finish. */
	free(log->job_data);
	log->job_data = NULL;
	write_finished(
		log, -ETIMEDOUT,
		"the disk did not answer before greeterd stopped: the change was not stored");
}

/* Compacting */

enum compact_step {
	COMPACT_ROTATED,
	COMPACT_DONE
};

struct compact_report {
	int step; /* enum compact_step */
	int r;
	uint64_t snapshot_size; /* COMPACT_DONE, r == 0: the snapshot written */
	char err[512];
};

/* What the compactor needs, besides the log: the state to write, its own
 * copy made by the fork. */
struct compact_job {
	const struct change_log *log;
	const struct greeter_entries *state;
};

static void remove_old_logs(const char *dir, unsigned from, unsigned upto)
{
	for (unsigned k = from; k <= upto; k++) {
		char path[PATH_MAX], name[32];

		old_name(name, k);
		path_of(path, dir, name);
		if (unlink(path) < 0 && errno != ENOENT)
			log_warning("cannot remove %s: %s", path, strerror(errno));
	}
	file_sync_dir(dir);
}

static uint64_t snapshot_size(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	path_of(path, dir, STATE_FILE_NAME);
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/*
 * The compactor, a child process of its own (a fork per compaction, which
 * is rare): start a fresh messages.log (the one so far becomes
 * messages.log.<N>; the next write creates the new one and fsyncs the
 * directory), then write the snapshot of the state and remove the logs it
 * holds.
 */
static void run_compact(int sock, void *arg)
{
	const struct compact_job *job = arg;
	const struct change_log *log = job->log;
	struct compact_report rep = { .step = COMPACT_ROTATED };
	char old[PATH_MAX], name[32];

	if (log->rotating) {
		old_name(name, log->compact_upto);
		path_of(old, log->dir, name);
		if (rename(log->path, old) < 0)
			rep.r = set_errno(rep.err, sizeof(rep.err), errno, "renaming %s",
					  log->path);
		if (send(sock, &rep, sizeof(rep), MSG_NOSIGNAL) < 0 || rep.r < 0)
			return;
	}
	rep.step = COMPACT_DONE;
	rep.r = state_file_save(log->dir, job->state, rep.err, sizeof(rep.err));
	if (rep.r == 0) {
		remove_old_logs(log->dir, log->old_min, log->compact_upto);
		rep.snapshot_size = snapshot_size(log->dir);
	}
	(void)send(sock, &rep, sizeof(rep), MSG_NOSIGNAL);
}

/* messages.log was renamed (r == 0) or not: the write waiting for it may go. */
static void rotated(struct change_log *log, int r)
{
	log->rotating = false;
	if (r == 0) {
		log->size = 0;
		log->old_next++;
	}
	if (log->busy && !log_writer_busy(log->writer))
		start_write(log); /* the write held for it */
}

static void compaction_finished(struct change_log *log, const struct compact_report *rep)
{
	if (rep->r < 0) {
		log->compactions_failed++;
		log->compact_failed_usec = now_usec(CLOCK_MONOTONIC);
		log_warning("cannot compact the change log: %s; it keeps growing, and greeterd "
			    "tries again in %llu s",
			    rep->err, COMPACT_RETRY_USEC / 1000000);
		return;
	}
	log->compactions++;
	log->old_min = log->compact_upto + 1;
	log->snapshot_size = rep->snapshot_size;
	log_debug("compacted the change log into %s/%s (%llu bytes) in %.1f ms", log->dir,
		  STATE_FILE_NAME, (unsigned long long)log->snapshot_size,
		  (double)(now_usec(CLOCK_MONOTONIC) - log->compact_usec) / 1000.0);
}

static int on_compact_report(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct change_log *log = userdata;
	struct compact_report rep;

	if (!child_read(&log->compactor, &rep, sizeof(rep), MSG_WAITALL)) {
		char old[PATH_MAX], name[32];

		rep = (struct compact_report){ .step = COMPACT_DONE, .r = -EIO };
		snprintf(rep.err, sizeof(rep.err), "the compacting process ended early");
		if (log->rotating) {
			old_name(name, log->compact_upto);
			path_of(old, log->dir, name);
			rotated(log, access(old, F_OK) == 0 ? 0 : -EIO);
		}
	} else if (rep.step == COMPACT_ROTATED) {
		rotated(log, rep.r);
		if (rep.r == 0)
			return 0;
	}
	child_end(&log->compactor, true);
	compaction_finished(log, &rep);
	return 0;
}

void change_log_maybe_compact(struct change_log *log, const struct greeter_entries *state)
{
	struct compact_job job = { .log = log, .state = state };
	uint64_t bound = log->snapshot_size * 2;

	if (bound < LOG_COMPACT_MIN)
		bound = LOG_COMPACT_MIN;
	if (log->stopping || log->compactor.pid || log->busy ||
	    (log->size <= bound && log->old_next == log->old_min && !(log->due && log->size)))
		return;
	if (log->compact_failed_usec &&
	    now_usec(CLOCK_MONOTONIC) - log->compact_failed_usec < COMPACT_RETRY_USEC)
		return;
	/* Only a log that is due gets a successor: retries after a failed
	 * compaction do not pile up renamed logs. */
	log->rotating = log->size > bound || (log->due && log->size);
	log->compact_upto = log->rotating ? log->old_next : log->old_next - 1;
	log->compact_usec = now_usec(CLOCK_MONOTONIC);
	if (child_spawn(&log->compactor, log->loop, on_compact_report, log, &log->lock_fd, 1,
			run_compact, &job) < 0) {
		log->rotating = false;
		log->compact_failed_usec = now_usec(CLOCK_MONOTONIC);
		return;
	}
	log->due = false;
}

void change_log_compact_soon(struct change_log *log)
{
	log->due = true;
}

int change_log_compact_now(struct change_log *log, const struct greeter_entries *state, char *err,
			   size_t err_size)
{
	int r;

	if (log->busy || log->compactor.pid)
		return set_errno(err, err_size, EBUSY, "compacting the change log");
	r = state_file_save(log->dir, state, err, err_size);
	if (r < 0) {
		log->compactions_failed++;
		return r;
	}
	if (truncate(log->path, 0) < 0 && errno != ENOENT) {
		log->compactions_failed++;
		return set_errno(err, err_size, errno, "emptying %s", log->path);
	}
	log->compactions++;
	log->size = 0;
	remove_old_logs(log->dir, log->old_min, log->old_next - 1);
	log->old_min = log->old_next;
	log->snapshot_size = snapshot_size(log->dir);
	return 0;
}

/* Opening and closing */

int change_log_open(struct change_log **out, const char *state_dir, int lock_fd, sd_event *loop,
		    change_log_written_fn written, void *userdata, char *err, size_t err_size)
{
	struct change_log *log = calloc(1, sizeof(*log));
	unsigned nums[OLD_LOGS_MAX];
	struct stat st;
	bool created = false;
	size_t n = 0;
	int fd, r;

	if (!log)
		return set_errno(err, err_size, ENOMEM, "opening the change log");
	snprintf(log->dir, sizeof(log->dir), "%s", state_dir);
	log->lock_fd = lock_fd;
	log->loop = loop;
	log->compactor = CHILD_NONE;
	log->written = written;
	log->userdata = userdata;
	path_of(log->path, state_dir, CHANGE_LOG_NAME);

	/* Whether we can write there at all: found now, not at the first change. */
	fd = open(log->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		fd = open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
			  0644);
		created = fd >= 0;
	}
	if (fd < 0) {
		r = set_errno(err, err_size, errno, "opening %s", log->path);
		goto fail;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = set_errno(err, err_size, errno ? errno : EINVAL, "opening %s", log->path);
		close(fd);
		goto fail;
	}
	log->size = (uint64_t)st.st_size;
	close(fd);
	/* A new (empty) log's name must survive a crash before a change goes in it. */
	if (created && file_sync_dir(state_dir) < 0) {
		r = set_errno(err, err_size, errno, "syncing directory %s", state_dir);
		goto fail;
	}
	log->snapshot_size = snapshot_size(state_dir);
	old_logs(state_dir, nums, OLD_LOGS_MAX, &n);
	log->old_min = n ? nums[0] : 1;
	log->old_next = n ? nums[n - 1] + 1 : 1;
	r = log_writer_new(&log->writer, state_dir, log->path, lock_fd, loop, on_write_done, log);
	if (r < 0) {
		set_errno(err, err_size, -r, "starting the change log's writer");
		goto fail;
	}
	*out = log;
	return 0;
fail:
	change_log_close(log);
	return r;
}

void change_log_settle(struct change_log *log, uint64_t deadline_usec)
{
	log->stopping = true;
	while (log->busy || log->compactor.pid) {
		/* Negative descriptors: nothing to wait for there. */
		struct pollfd p[2] = {
			{ .fd = log_writer_poll_fd(log->writer), .events = POLLIN },
			{ .fd = log->compactor.pid ? log->compactor.fd : -1, .events = POLLIN },
		};
		uint64_t now = now_usec(CLOCK_MONOTONIC);

		if (log_writer_busy(log->writer) && p[0].fd < 0) {
			log_writer_dispatch(log->writer); /* a failure to tell */
			continue;
		}
		if (now >= deadline_usec)
			break;
		if (poll(p, 2, (int)((deadline_usec - now + 999) / 1000)) <= 0)
			continue;
		/* One report at a time: it may start the next write. */
		if (p[0].revents)
			log_writer_dispatch(log->writer);
		else if (p[1].revents)
			on_compact_report(NULL, p[1].fd, 0, log);
	}
	if (log->busy)
		give_up_write(log);
	/* A compaction that could not finish goes on alone: it holds the lock meanwhile. */
	if (log->compactor.pid)
		child_end(&log->compactor, false);
	log->stopped = true;
}

void change_log_close(struct change_log *log)
{
	struct compact_report crep;

	if (!log)
		return;
	/* Without change_log_settle(): what is in flight is waited for, not told. */
	log_writer_free(log->writer);
	while (log->compactor.pid &&
	       child_read(&log->compactor, &crep, sizeof(crep), MSG_WAITALL) &&
	       crep.step == COMPACT_ROTATED && crep.r == 0)
		;
	if (log->compactor.pid)
		child_end(&log->compactor, true);
	free(log->job_data);
	free(log);
}

uint64_t change_log_size(const struct change_log *log)
{
	return log->size;
}

void change_log_counts(const struct change_log *log, uint64_t *compactions, uint64_t *failed)
{
	*compactions = log->compactions;
	*failed = log->compactions_failed;
}
