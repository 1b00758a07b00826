// SPDX-License-Identifier: LGPL-2.1-or-later
#include "log_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "err_text.h"
#include "file_replace.h"
#include "log.h"

#define NO_CUT UINT64_MAX
/* The memfd keeps up to this much between jobs. */
#define JOB_KEEP_MAX (64u << 10)

struct log_writer {
	char dir[PATH_MAX];
	char path[PATH_MAX];
	int lock_fd;
	int job_fd; /* memfd: the bytes of the write in flight */
	sd_event *loop;
	struct child child;
	/* The log's size before the write a writer died in: the next one cuts it
	 * back and, once (redo), writes it again. */
	uint64_t cut_to;
	bool redo, redone;
	log_writer_done_fn done;
	void *userdata;

	bool inflight; /* a write is in the writer */
	size_t len;
	uint64_t size; /* the log's size before it */
	/* It could not be handed over: told from the loop (made beforehand, so
	 * that telling needs no memory). */
	sd_event_source *failed_src;
	bool failed;
	int failed_r;
	char failed_err[256];
};

/* What greeterd sends: the job's bytes are in job_fd. */
struct write_job {
	uint64_t len;
};

enum write_step {
	STEP_OPEN,
	STEP_STAT,
	STEP_WRITE,
	STEP_SYNC,
	STEP_SYNC_DIR,
	STEP_DIED /* the writer died in it */
};

struct write_report {
	int r; /* 0 or a negative errno */
	int step; /* enum write_step: what failed */
	uint64_t before; /* the log's size before the write */
};

/* In the writer */

static void undo_write(int fd, uint64_t before)
{
	if (ftruncate(fd, (off_t)before) == 0)
		(void)fsync(fd);
}

/* What a writer that died midway may have appended goes. */
static void cut_back(const char *path, uint64_t size)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size > size)
		undo_write(fd, size);
	close(fd);
}

/* Append the job's len bytes to the log and fsync; *fd stays open for an undo. */
static void append(const struct log_writer *w, size_t len, int *fd, struct write_report *rep)
{
	bool dir_sync = false;
	struct stat st;
	void *data;

	*rep = (struct write_report){ .step = STEP_OPEN };
	/* Opened for each write: no descriptor held between them (a remount
	 * read-only, a log an admin moved away, all just work). */
	*fd = open(w->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (*fd < 0 && errno == ENOENT) {
		*fd = open(w->path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
			   0644);
		/* A new file: its name must survive a crash too. */
		dir_sync = true;
	}
	if (*fd < 0)
		goto fail_errno;
	rep->step = STEP_STAT;
	if (fstat(*fd, &st) < 0)
		goto fail_errno;
	rep->before = (uint64_t)st.st_size;
	rep->step = STEP_WRITE;
	data = len ? mmap(NULL, len, PROT_READ, MAP_SHARED, w->job_fd, 0) : NULL;
	if (data == MAP_FAILED)
		goto fail_errno;
	rep->r = file_write_all(*fd, data, len);
	if (data)
		munmap(data, len);
	if (rep->r < 0)
		goto out;
	rep->step = STEP_SYNC;
	if (fsync(*fd) < 0)
		goto fail_errno;
	rep->step = STEP_SYNC_DIR;
	if (dir_sync)
		rep->r = file_sync_dir(w->dir);
	goto out;
fail_errno:
	rep->r = -errno;
out:
	/* What failed must not come back after a restart. */
	if (rep->r < 0 && rep->step >= STEP_WRITE)
		undo_write(*fd, rep->before);
}

/* One job: append, report; false when greeterd no longer listens. */
static bool do_job(const struct log_writer *w, int sock, size_t len)
{
	struct write_report rep;
	int fd = -1;
	bool told;

	append(w, len, &fd, &rep);
	told = send(sock, &rep, sizeof(rep), MSG_NOSIGNAL) == sizeof(rep);
	/* What greeterd gave up on (it shut the socket, then told its callers
	 * so) must not come back either, if this process outlives it that long. */
	if (!told && rep.r == 0)
		undo_write(fd, rep.before);
	if (fd >= 0)
		close(fd);
	return told;
}

/* The writer's life: a job, a report, until greeterd closes the socket. */
static void writer_main(int sock, void *arg)
{
	const struct log_writer *w = arg;
	struct write_job job;

	/* What a writer that died midway may have appended goes first, */
	if (w->cut_to != NO_CUT)
		cut_back(w->path, w->cut_to);
	/* and the write it died in is done again (its bytes are still in job_fd). */
	if (w->redo && !do_job(w, sock, w->len))
		return;
	while (recv(sock, &job, sizeof(job), MSG_WAITALL) == sizeof(job))
		if (!do_job(w, sock, job.len))
			return;
}

/* In greeterd */

static int on_report(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static int spawn(struct log_writer *w)
{
	int keep[] = { w->lock_fd, w->job_fd }, r;

	r = child_spawn(&w->child, w->loop, on_report, w, keep, 2, writer_main, w);
	if (r == 0)
		w->cut_to = NO_CUT; /* the new writer does it */
	w->redo = false;
	return r;
}

static void finish(struct log_writer *w, const struct write_report *rep)
{
	static const char *const what[] = {
		[STEP_OPEN] = "opening",
		[STEP_STAT] = "reading",
		[STEP_WRITE] = "writing",
		[STEP_SYNC] = "syncing",
		[STEP_SYNC_DIR] = "syncing directory",
		[STEP_DIED] = "the change log's writer ended while writing",
	};
	char err[256] = "";

	w->inflight = false;
	/* A large job's memory goes back; a small one's pages serve the next. */
	if (w->len > JOB_KEEP_MAX && ftruncate(w->job_fd, 0) < 0) {
		/* Kept, then: the next job writes over it. */
	}
	if (rep->r < 0)
		set_errno(err, sizeof(err), -rep->r, "%s %s", what[rep->step],
			  rep->step == STEP_SYNC_DIR ? w->dir : w->path);
	w->done(w->userdata, rep->r, err, rep->before + w->len);
}

static int on_report(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct log_writer *w = userdata;
	struct write_report rep;

	if (!w->inflight) {
		log_warning("the change log's writer ended; the next change starts another");
		child_end(&w->child, true);
		return 0;
	}
	if (!child_read(&w->child, &rep, sizeof(rep), MSG_WAITALL)) {
		/* It died midway (killed?): its successor cuts off what it may have
		 * appended and writes the job again, once; until it reports, nothing
		 * else (a compaction) touches the log. */
		child_end(&w->child, true);
		w->cut_to = w->size;
		w->redo = !w->redone;
		if (w->redo && spawn(w) == 0) {
			log_warning("the change log's writer ended while writing; another one "
				    "writes that change again");
			w->redone = true;
			return 0;
		}
		/* Died again, or no successor: failed; the next writer cuts. */
		w->redo = false;
		rep = (struct write_report){ .r = -EIO, .step = STEP_DIED };
	}
	finish(w, &rep);
	return 0;
}

static int on_failed(sd_event_source *s, void *userdata)
{
	struct log_writer *w = userdata;

	w->failed = false;
	(void)sd_event_source_set_enabled(w->failed_src, SD_EVENT_OFF);
	w->done(w->userdata, w->failed_r, w->failed_err, w->size);
	return 0;
}

/* The job's bytes into the memfd: memory, never the disk. */
static int put_job(int fd, const char *data, size_t len)
{
	off_t off = 0;

	while (len > 0) {
		ssize_t n = pwrite(fd, data, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		data += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Tell the writer to go (starting one if there is none, or it ended since). */
static int hand_over(struct log_writer *w)
{
	struct write_job job = { .len = w->len };
	int r = 0;

	for (int tries = 0; tries < 2; tries++) {
		if (!w->child.pid && (r = spawn(w)) < 0)
			return r;
		/* One job at a time, and the reports go the other way: never full. */
		if (send(w->child.fd, &job, sizeof(job), MSG_DONTWAIT | MSG_NOSIGNAL) ==
		    sizeof(job))
			return 0;
		r = -errno;
		if (r != -EPIPE && r != -ECONNRESET)
			return r;
		/* It ended while idle: another one. */
		child_end(&w->child, true);
	}
	return r;
}

void log_writer_write(struct log_writer *w, const char *data, size_t len, uint64_t size)
{
	int r;

	w->len = len;
	w->size = size;
	w->redone = false;
	r = put_job(w->job_fd, data, len);
	if (r == 0)
		r = hand_over(w);
	if (r == 0) {
		w->inflight = true;
		return;
	}
	/* Told from the loop, as any result is. */
	w->failed = true;
	w->failed_r = r;
	set_errno(w->failed_err, sizeof(w->failed_err), -r,
		  "handing the change over to the change log's writer");
	(void)sd_event_source_set_enabled(w->failed_src, SD_EVENT_ONESHOT);
}

bool log_writer_busy(const struct log_writer *w)
{
	return w->inflight || w->failed;
}

int log_writer_poll_fd(const struct log_writer *w)
{
	return w->inflight ? w->child.fd : -1;
}

void log_writer_dispatch(struct log_writer *w)
{
	if (w->failed)
		on_failed(w->failed_src, w);
	else if (w->inflight)
		on_report(NULL, w->child.fd, 0, w);
}

void log_writer_give_up(struct log_writer *w)
{
	struct write_report rep;

	if (!w->inflight) {
		log_writer_dispatch(w);
		return;
	}
	/* From here on the writer cannot report (it undoes its write instead, if
	 * it gets that far). A report already sent is still read. */
	shutdown(w->child.fd, SHUT_RD);
	if (child_read(&w->child, &rep, sizeof(rep), MSG_DONTWAIT)) {
		finish(w, &rep);
		return;
	}
	child_end(&w->child, false);
	w->inflight = false;
	w->done(w->userdata, -ETIMEDOUT,
		"the disk did not answer before greeterd stopped: the change was not stored",
		w->size);
}

int log_writer_new(struct log_writer **out, const char *dir, const char *path, int lock_fd,
		   sd_event *loop, log_writer_done_fn done, void *userdata)
{
	struct log_writer *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	snprintf(w->path, sizeof(w->path), "%s", path);
	w->lock_fd = lock_fd;
	w->loop = loop;
	w->child = CHILD_NONE;
	w->cut_to = NO_CUT;
	w->done = done;
	w->userdata = userdata;
	w->job_fd = memfd_create("greeter-log-job", MFD_CLOEXEC);
	if (w->job_fd < 0) {
		r = -errno;
		free(w);
		return r;
	}
	r = sd_event_add_defer(loop, &w->failed_src, on_failed, w);
	if (r == 0)
		r = sd_event_source_set_enabled(w->failed_src, SD_EVENT_OFF);
	if (r < 0) {
		log_writer_free(w);
		return r;
	}
	/* Started now, off the first change's path; if it cannot be, the first write tries again. */
	(void)spawn(w);
	*out = w;
	return 0;
}

void log_writer_free(struct log_writer *w)
{
	struct write_report rep;

	if (!w)
		return;
	if (w->inflight)
		(void)child_read(&w->child, &rep, sizeof(rep), MSG_WAITALL);
	/* An idle writer ends when its socket closes. */
	child_end(&w->child, true);
	sd_event_source_disable_unref(w->failed_src);
	close(w->job_fd);
	free(w);
}
