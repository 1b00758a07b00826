// SPDX-License-Identifier: LGPL-2.1-or-later
#include "change_log.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
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

struct change_log {
	char dir[PATH_MAX];
	char path[PATH_MAX]; /* messages.log */
	uint64_t size;
	uint64_t snapshot_size;
	/* messages.log.<old_min .. old_next-1> may exist (logs awaiting compaction). */
	unsigned old_min, old_next;
	bool due; /* compact at the next chance, however small the log */
	change_log_written_fn written;
	void *userdata;
	int efd;
	sd_event_source *src;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_cond_t done_cv; /* a write finished */
	pthread_t worker;
	bool worker_started, stop;
	/* The write in flight, under mu. */
	bool busy, job_pending, job_done;
	char *job_data;
	size_t job_len;
	int job_r;
	char job_err[256];

	/* The compaction in flight. */
	bool compacting, compact_done;
	pthread_t compactor;
	struct greeter_entries compact_state;
	unsigned compact_upto;
	int compact_r;
	char compact_err[512];
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
	res->usec = (double)(mono_usec() - t0);
}

/* Worker */

static void post(struct change_log *log)
{
	uint64_t one = 1;

	if (write(log->efd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow in practice; nothing else to do. */
	}
}

static void *worker_main(void *arg)
{
	struct change_log *log = arg;

	pthread_mutex_lock(&log->mu);
	for (;;) {
		char *data;
		size_t len;
		uint64_t before;
		bool dir_sync;
		int r;

		while (!log->job_pending && !log->stop)
			pthread_cond_wait(&log->cv, &log->mu);
		if (!log->job_pending)
			break;
		data = log->job_data;
		len = log->job_len;
		pthread_mutex_unlock(&log->mu);

		char err[256] = "";
		struct stat st;
		int fd;

		/* Opened for each write: no descriptor held between them (a remount
		 * read-only, a log an admin moved away, all just work). */
		dir_sync = false;
		fd = open(log->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
		if (fd < 0 && errno == ENOENT) {
			fd = open(log->path,
				  O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
				  0644);
			/* A new file: its name must survive a crash too. */
			dir_sync = true;
		}
		before = 0;
		if (fd < 0)
			r = set_errno(err, sizeof(err), errno, "opening %s", log->path);
		else if (fstat(fd, &st) < 0)
			r = set_errno(err, sizeof(err), errno, "reading %s", log->path);
		else if ((before = (uint64_t)st.st_size), (r = file_write_all(fd, data, len)) < 0)
			set_errno(err, sizeof(err), -r, "writing %s", log->path);
		else if (fsync(fd) < 0)
			r = set_errno(err, sizeof(err), errno, "syncing %s", log->path);
		else if (dir_sync && (r = file_sync_dir(log->dir)) < 0)
			set_errno(err, sizeof(err), -r, "syncing directory %s", log->dir);
		/* What failed must not come back after a restart. */
		if (r < 0 && fd >= 0 && ftruncate(fd, (off_t)before) == 0)
			(void)fsync(fd);
		if (fd >= 0)
			close(fd);

		pthread_mutex_lock(&log->mu);
		free(data);
		log->job_data = NULL;
		log->job_pending = false;
		log->job_r = r;
		snprintf(log->job_err, sizeof(log->job_err), "%s", err);
		if (r == 0)
			log->size = before + len;
		log->job_done = true;
		pthread_cond_broadcast(&log->done_cv);
		post(log);
	}
	pthread_mutex_unlock(&log->mu);
	return NULL;
}

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

static void *compactor_main(void *arg)
{
	struct change_log *log = arg;
	char err[512] = "";
	int r;

	r = state_file_save(log->dir, &log->compact_state, err, sizeof(err));
	if (r == 0)
		remove_old_logs(log->dir, log->old_min, log->compact_upto);
	pthread_mutex_lock(&log->mu);
	log->compact_r = r;
	snprintf(log->compact_err, sizeof(log->compact_err), "%s", err);
	log->compact_done = true;
	post(log);
	pthread_mutex_unlock(&log->mu);
	return NULL;
}

static uint64_t snapshot_size(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	path_of(path, dir, STATE_FILE_NAME);
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void compaction_finished(struct change_log *log)
{
	pthread_join(log->compactor, NULL);
	log->compacting = false;
	greeter_entries_free(&log->compact_state);
	if (log->compact_r < 0) {
		log->compactions_failed++;
		log->compact_failed_usec = mono_usec();
		log_warning("cannot compact the change log: %s; it keeps growing, and greeterd "
			    "tries again in %llu s",
			    log->compact_err, COMPACT_RETRY_USEC / 1000000);
		return;
	}
	log->compactions++;
	log->old_min = log->compact_upto + 1;
	log->snapshot_size = snapshot_size(log->dir);
	log_debug("compacted the change log into %s/%s (%llu bytes) in %.1f ms", log->dir,
		  STATE_FILE_NAME, (unsigned long long)log->snapshot_size,
		  (double)(mono_usec() - log->compact_usec) / 1000.0);
}

static int on_wakeup(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct change_log *log = userdata;
	bool job, compact;
	char err[256];
	uint64_t v;
	int r;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: a wakeup already consumed; look at the flags anyway. */
	}
	pthread_mutex_lock(&log->mu);
	job = log->job_done;
	compact = log->compact_done;
	log->job_done = log->compact_done = false;
	r = log->job_r;
	snprintf(err, sizeof(err), "%s", log->job_err);
	if (job)
		log->busy = false;
	pthread_mutex_unlock(&log->mu);
	if (compact)
		compaction_finished(log);
	if (job)
		log->written(log->userdata, r, err);
	return 0;
}

int change_log_open(struct change_log **out, const char *state_dir, sd_event *loop,
		    change_log_written_fn written, void *userdata, char *err, size_t err_size)
{
	struct change_log *log = calloc(1, sizeof(*log));
	unsigned nums[OLD_LOGS_MAX];
	char path[PATH_MAX];
	struct stat st;
	bool created = false;
	size_t n = 0;
	int fd, r;

	if (!log)
		return set_errno(err, err_size, ENOMEM, "opening the change log");
	snprintf(log->dir, sizeof(log->dir), "%s", state_dir);
	log->efd = -1;
	log->written = written;
	log->userdata = userdata;
	pthread_mutex_init(&log->mu, NULL);
	pthread_cond_init(&log->cv, NULL);
	pthread_cond_init(&log->done_cv, NULL);
	path_of(log->path, state_dir, CHANGE_LOG_NAME);
	path_of(path, state_dir, CHANGE_LOG_NAME);

	/* Whether we can write there at all: found now, not at the first change. */
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
			  0644);
		created = fd >= 0;
	}
	if (fd < 0) {
		r = set_errno(err, err_size, errno, "opening %s", path);
		goto fail;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = set_errno(err, err_size, errno ? errno : EINVAL, "opening %s", path);
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

	log->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (log->efd < 0) {
		r = set_errno(err, err_size, errno, "creating an eventfd");
		goto fail;
	}
	r = sd_event_add_io(loop, &log->src, log->efd, EPOLLIN, on_wakeup, log);
	if (r < 0) {
		set_errno(err, err_size, -r, "watching the change log's eventfd");
		goto fail;
	}
	r = -pthread_create(&log->worker, NULL, worker_main, log);
	if (r < 0) {
		set_errno(err, err_size, -r, "starting the change log's writer");
		goto fail;
	}
	log->worker_started = true;
	*out = log;
	return 0;
fail:
	change_log_close(log);
	return r;
}

void change_log_wait(struct change_log *log)
{
	pthread_mutex_lock(&log->mu);
	while (log->busy && !log->job_done)
		pthread_cond_wait(&log->done_cv, &log->mu);
	pthread_mutex_unlock(&log->mu);
	on_wakeup(NULL, log->efd, 0, log);
}

bool change_log_busy(const struct change_log *log)
{
	return log->busy;
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

int change_log_write(struct change_log *log, char *data, size_t len)
{
	if (log->busy) {
		free(data);
		return -EBUSY;
	}
	pthread_mutex_lock(&log->mu);
	log->busy = true;
	log->job_pending = true;
	log->job_data = data;
	log->job_len = len;
	pthread_cond_signal(&log->cv);
	pthread_mutex_unlock(&log->mu);
	return 0;
}

static int copy_entries(struct greeter_entries *dst, const struct greeter_entries *src)
{
	*dst = (struct greeter_entries){ 0 };
	if (!src->count)
		return 0;
	dst->items = malloc(src->count * sizeof(*src->items));
	if (!dst->items)
		return -ENOMEM;
	memcpy(dst->items, src->items, src->count * sizeof(*src->items));
	dst->count = dst->capacity = src->count;
	return 0;
}

/* Start a fresh messages.log; the one so far becomes messages.log.<N>. */
static int rotate(struct change_log *log)
{
	char old[PATH_MAX], name[32];

	old_name(name, log->old_next);
	path_of(old, log->dir, name);
	/* The next write creates messages.log afresh (and fsyncs the directory). */
	if (rename(log->path, old) < 0)
		return -errno;
	log->size = 0;
	log->old_next++;
	return 0;
}

void change_log_maybe_compact(struct change_log *log, const struct greeter_entries *state)
{
	uint64_t bound = log->snapshot_size * 2;
	int r;

	if (bound < LOG_COMPACT_MIN)
		bound = LOG_COMPACT_MIN;
	if (log->compacting || log->busy ||
	    (log->size <= bound && log->old_next == log->old_min && !(log->due && log->size)))
		return;
	if (log->compact_failed_usec && mono_usec() - log->compact_failed_usec < COMPACT_RETRY_USEC)
		return;
	/* Only a log that is due gets a successor: retries after a failed
	 * compaction do not pile up renamed logs. */
	if (log->size > bound || (log->due && log->size)) {
		r = rotate(log);
		if (r < 0) {
			log->compact_failed_usec = mono_usec();
			log_warning("cannot start a new change log: %s; trying again in %llu s",
				    strerror(-r), COMPACT_RETRY_USEC / 1000000);
			return;
		}
	}
	/* A copy: the loop goes on changing the state while the snapshot is written. */
	if (copy_entries(&log->compact_state, state) < 0)
		return;
	log->compact_upto = log->old_next - 1;
	log->compact_usec = mono_usec();
	r = pthread_create(&log->compactor, NULL, compactor_main, log);
	if (r) {
		greeter_entries_free(&log->compact_state);
		log->compact_failed_usec = mono_usec();
		return;
	}
	log->compacting = true;
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

	if (log->busy || log->compacting)
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

void change_log_close(struct change_log *log)
{
	if (!log)
		return;
	if (log->worker_started) {
		pthread_mutex_lock(&log->mu);
		log->stop = true;
		pthread_cond_signal(&log->cv);
		pthread_mutex_unlock(&log->mu);
		pthread_join(log->worker, NULL);
	}
	if (log->compacting) {
		pthread_join(log->compactor, NULL);
		greeter_entries_free(&log->compact_state);
	}
	free(log->job_data);
	sd_event_source_disable_unref(log->src);
	if (log->efd >= 0)
		close(log->efd);
	pthread_mutex_destroy(&log->mu);
	pthread_cond_destroy(&log->cv);
	pthread_cond_destroy(&log->done_cv);
	free(log);
}
