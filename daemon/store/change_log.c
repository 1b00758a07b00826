// SPDX-License-Identifier: LGPL-2.1-or-later
#include "change_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "change_record.h"
#include "err_text.h"
#include "file_read.h"
#include "file_replace.h"
#include "log.h"
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

__attribute__((format(printf, 2, 3))) static void refuse(struct change_log_load *res,
							 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->refusal, sizeof(res->refusal), fmt, ap);
	va_end(ap);
}

/*
 * A process doing one job on the disk, reporting on a socket. Not a thread:
 * a thread stuck on a stalled disk keeps the whole process from exiting.
 */
struct child {
	pid_t pid; /* 0: none */
	int fd; /* our end of its socket */
	sd_event_source *src;
};

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

	/* The write: taken (busy), waiting for a rotation, or in the writer. */
	bool busy;
	char *job_data;
	size_t job_len;
	struct child writer;
	sd_event_source *failed_src; /* the writer could not be started: told from the loop */
	int failed_r;
	char failed_err[256];

	/* The compaction in flight; rotating: messages.log not yet renamed. */
	struct child compactor;
	bool rotating;
	unsigned compact_upto;
	uint64_t compact_usec, compact_failed_usec;
	/* Compactions done and failed, since open (GetStatus). */
	uint64_t compactions, compactions_failed;
};

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

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
			struct greeter_entries *out, struct change_log_load *res)
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

static void move_logs_aside(const char *state_dir, struct change_log_load *res)
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
		     struct change_log_load *res)
{
	uint64_t t0 = mono_usec();
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
	res->usec = (double)(mono_usec() - t0);
}


/* Children */

/* In a child: close every descriptor of greeterd's but a and b (clients, sockets, maps). */
static void keep_only(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo < 0)
		lo = hi;
	if (lo > 3)
		close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	close_range((unsigned)hi + 1, ~0u, 0);
}

typedef void (*child_body_fn)(const struct change_log *log, int sock, const void *arg);

/* Fork a child running body(log, sock, arg); report() runs on the loop when it speaks. */
static int spawn(struct change_log *log, struct child *c, sd_event_io_handler_t report,
		 child_body_fn body, const void *arg)
{
	pid_t pid, parent = getpid();
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	r = sd_event_add_io(log->loop, &c->src, sv[0], EPOLLIN, report, log);
	if (r < 0)
		goto fail;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		c->src = sd_event_source_disable_unref(c->src);
		goto fail;
	}
	if (pid == 0) {
		/* Killed with greeterd: it would hold the lock from the next one. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		keep_only(sv[1], log->lock_fd);
		body(log, sv[1], arg);
		_exit(0);
	}
	close(sv[1]);
	c->pid = pid;
	c->fd = sv[0];
	return 0;
fail:
	close(sv[0]);
	close(sv[1]);
	return r;
}

/* Stop listening to a child; reap it unless it was given up (it ends on its own). */
static void child_end(struct child *c, bool reap)
{
	c->src = sd_event_source_disable_unref(c->src);
	close(c->fd);
	c->fd = -1;
	while (reap && waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
		;
	c->pid = 0;
}

/* A report of size bytes from a child; false when it ended without one. */
static bool child_read(const struct child *c, void *rep, size_t size, int flags)
{
	ssize_t n;

	do
		n = recv(c->fd, rep, size, flags);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)size;
}

/* Writing */

enum write_step { STEP_OPEN, STEP_STAT, STEP_WRITE, STEP_SYNC, STEP_SYNC_DIR };

struct write_report {
	int r; /* 0 or a negative errno */
	int step; /* enum write_step: what failed */
	uint64_t before; /* the log's size before the write */
};

static void undo_write(int fd, uint64_t before)
{
	if (ftruncate(fd, (off_t)before) == 0)
		(void)fsync(fd);
}

/* The writer: append the job, fsync, report. */
static void run_write(const struct change_log *log, int sock, const void *arg)
{
	struct write_report rep = { .step = STEP_OPEN };
	bool dir_sync = false;
	struct stat st;
	int fd;

	/* Opened for each write: no descriptor held between them (a remount
	 * read-only, a log an admin moved away, all just work). */
	fd = open(log->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		fd = open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
			  0644);
		/* A new file: its name must survive a crash too. */
		dir_sync = true;
	}
	if (fd < 0)
		goto fail_errno;
	rep.step = STEP_STAT;
	if (fstat(fd, &st) < 0)
		goto fail_errno;
	rep.before = (uint64_t)st.st_size;
	rep.step = STEP_WRITE;
	rep.r = file_write_all(fd, log->job_data, log->job_len);
	if (rep.r < 0)
		goto out;
	rep.step = STEP_SYNC;
	if (fsync(fd) < 0)
		goto fail_errno;
	rep.step = STEP_SYNC_DIR;
	if (dir_sync)
		rep.r = file_sync_dir(log->dir);
	goto out;
fail_errno:
	rep.r = -errno;
out:
	/* What failed must not come back after a restart. */
	if (rep.r < 0 && rep.step >= STEP_WRITE)
		undo_write(fd, rep.before);
	/* Nor what greeterd gave up on (it shut the socket, then told its callers
	 * so), if this process outlives it long enough. */
	if (send(sock, &rep, sizeof(rep), MSG_NOSIGNAL) != sizeof(rep) && rep.r == 0)
		undo_write(fd, rep.before);
}

static void write_finished(struct change_log *log, int r, const char *err)
{
	log->busy = false;
	log->written(log->userdata, r, err);
}

static void report_finished(struct change_log *log, const struct write_report *rep)
{
	static const char *const what[] = { "opening", "reading", "writing", "syncing",
					     "syncing directory" };
	char err[256] = "";

	if (rep->r == 0)
		log->size = rep->before + log->job_len;
	else
		set_errno(err, sizeof(err), -rep->r, "%s %s", what[rep->step],
			  rep->step == STEP_SYNC_DIR ? log->dir : log->path);
	write_finished(log, rep->r, err);
}

static int on_write_report(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct change_log *log = userdata;
	struct write_report rep;

	if (!child_read(&log->writer, &rep, sizeof(rep), MSG_WAITALL)) {
		/* It died (killed?) mid-way: cut off whatever it may have appended. */
		if (truncate(log->path, (off_t)log->size) < 0 && errno != ENOENT)
			log_warning("cannot cut %s back: %s", log->path, strerror(errno));
		rep = (struct write_report){ .r = -EIO, .step = STEP_WRITE };
	}
	child_end(&log->writer, true);
	report_finished(log, &rep);
	return 0;
}

static int on_write_failed(sd_event_source *s, void *userdata)
{
	struct change_log *log = userdata;

	log->failed_src = sd_event_source_disable_unref(log->failed_src);
	write_finished(log, log->failed_r, log->failed_err);
	return 0;
}

static void start_write(struct change_log *log)
{
	int r = spawn(log, &log->writer, on_write_report, run_write, NULL);

	/* The child has its copy. */
	free(log->job_data);
	log->job_data = NULL;
	if (r >= 0)
		return;
	/* Told from the loop, as any result is. */
	log->failed_r = r;
	set_errno(log->failed_err, sizeof(log->failed_err), -r, "starting the change log's writer");
	if (sd_event_add_defer(log->loop, &log->failed_src, on_write_failed, log) < 0)
		log->busy = false; /* out of memory: the caller learns nothing; the next write goes */
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
	struct write_report rep;

	if (log->failed_src) {
		on_write_failed(log->failed_src, log);
		return;
	}
	free(log->job_data);
	log->job_data = NULL;
	if (log->writer.pid) {
		/* From here on the writer cannot report (it undoes its write instead,
		 * if it gets that far). A report already sent is still read. */
		shutdown(log->writer.fd, SHUT_RD);
		if (child_read(&log->writer, &rep, sizeof(rep), MSG_DONTWAIT)) {
			child_end(&log->writer, true);
			report_finished(log, &rep);
			return;
		}
		child_end(&log->writer, false);
	}
	write_finished(log, -ETIMEDOUT,
		       "the disk did not answer before greeterd stopped: the change was not stored");
}

/* Compacting */

enum compact_step { COMPACT_ROTATED, COMPACT_DONE };

struct compact_report {
	int step; /* enum compact_step */
	int r;
	char err[512];
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

/*
 * The compactor: start a fresh messages.log (the one so far becomes
 * messages.log.<N>; the next write creates the new one and fsyncs the
 * directory), then write the snapshot of state, its own copy made by the
 * fork, and remove the logs it holds.
 */
static void run_compact(const struct change_log *log, int sock, const void *arg)
{
	struct compact_report rep = { .step = COMPACT_ROTATED };
	char old[PATH_MAX], name[32];

	if (log->rotating) {
		old_name(name, log->compact_upto);
		path_of(old, log->dir, name);
		if (rename(log->path, old) < 0)
			rep.r = set_errno(rep.err, sizeof(rep.err), errno, "renaming %s", log->path);
		if (send(sock, &rep, sizeof(rep), MSG_NOSIGNAL) < 0 || rep.r < 0)
			return;
	}
	rep.step = COMPACT_DONE;
	rep.r = state_file_save(log->dir, arg, rep.err, sizeof(rep.err));
	if (rep.r == 0)
		remove_old_logs(log->dir, log->old_min, log->compact_upto);
	(void)send(sock, &rep, sizeof(rep), MSG_NOSIGNAL);
}

static uint64_t snapshot_size(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	path_of(path, dir, STATE_FILE_NAME);
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* messages.log was renamed (r == 0) or not: the write waiting for it may go. */
static void rotated(struct change_log *log, int r)
{
	log->rotating = false;
	if (r == 0) {
		log->size = 0;
		log->old_next++;
	}
	if (log->busy && !log->writer.pid && !log->failed_src)
		start_write(log);
}

static void compaction_finished(struct change_log *log, const struct compact_report *rep)
{
	if (rep->r < 0) {
		log->compactions_failed++;
		log->compact_failed_usec = mono_usec();
		log_warning("cannot compact the change log: %s; it keeps growing, and greeterd "
			    "tries again in %llu s",
			    rep->err, COMPACT_RETRY_USEC / 1000000);
		return;
	}
	log->compactions++;
	log->old_min = log->compact_upto + 1;
	log->snapshot_size = snapshot_size(log->dir);
	log_debug("compacted the change log into %s/%s (%llu bytes) in %.1f ms", log->dir,
		  STATE_FILE_NAME, (unsigned long long)log->snapshot_size,
		  (double)(mono_usec() - log->compact_usec) / 1000.0);
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
	uint64_t bound = log->snapshot_size * 2;

	if (bound < LOG_COMPACT_MIN)
		bound = LOG_COMPACT_MIN;
	if (log->stopping || log->compactor.pid || log->busy ||
	    (log->size <= bound && log->old_next == log->old_min && !(log->due && log->size)))
		return;
	if (log->compact_failed_usec && mono_usec() - log->compact_failed_usec < COMPACT_RETRY_USEC)
		return;
	/* Only a log that is due gets a successor: retries after a failed
	 * compaction do not pile up renamed logs. */
	log->rotating = log->size > bound || (log->due && log->size);
	log->compact_upto = log->rotating ? log->old_next : log->old_next - 1;
	log->compact_usec = mono_usec();
	if (spawn(log, &log->compactor, on_compact_report, run_compact, state) < 0) {
		log->rotating = false;
		log->compact_failed_usec = mono_usec();
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
	log->writer.fd = log->compactor.fd = -1;
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
		struct child *c[2];
		struct pollfd p[2];
		nfds_t n = 0;
		uint64_t now = mono_usec();

		if (log->failed_src) {
			on_write_failed(log->failed_src, log);
			continue;
		}
		if (now >= deadline_usec)
			break;
		if (log->writer.pid)
			c[n++] = &log->writer;
		if (log->compactor.pid)
			c[n++] = &log->compactor;
		for (nfds_t i = 0; i < n; i++)
			p[i] = (struct pollfd){ .fd = c[i]->fd, .events = POLLIN };
		if (poll(p, n, (int)((deadline_usec - now + 999) / 1000)) <= 0)
			continue;
		/* One report at a time: it may start the next write. */
		if (p[0].revents)
			(c[0] == &log->writer ? on_write_report : on_compact_report)(NULL, p[0].fd, 0,
										    log);
		else if (n > 1 && p[1].revents)
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
	struct write_report rep;
	struct compact_report crep;

	if (!log)
		return;
	/* Without change_log_settle(): what is in flight is waited for, not told. */
	if (log->writer.pid) {
		if (child_read(&log->writer, &rep, sizeof(rep), MSG_WAITALL) && rep.r == 0)
			log->size = rep.before + log->job_len;
		child_end(&log->writer, true);
	}
	while (log->compactor.pid && child_read(&log->compactor, &crep, sizeof(crep), MSG_WAITALL) &&
	       crep.step == COMPACT_ROTATED && crep.r == 0)
		;
	if (log->compactor.pid)
		child_end(&log->compactor, true);
	sd_event_source_disable_unref(log->failed_src);
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
