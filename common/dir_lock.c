// SPDX-License-Identifier: LGPL-2.1-or-later
#include "dir_lock.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* How long a greeterd waits for the processes an ended one left to let go. */
#define LEFT_WAIT_USEC (10ull * 1000 * 1000)

/*
 * The pid that holds a flock() on the inode of fd, from /proc/locks
 * ("1: FLOCK  ADVISORY  WRITE 1234 00:1f:5678 0 EOF"); 0 when not found.
 * A bpffs cannot hold a file of ours to write the pid in: the kernel's own
 * table names the holder on any file system.
 */
static long lock_holder(int fd)
{
	char line[256], type[16];
	unsigned int maj, min;
	unsigned long ino;
	struct stat st;
	long pid, found = 0;
	FILE *f;

	if (fstat(fd, &st) < 0)
		return 0;
	f = fopen("/proc/locks", "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		/* Waiters are listed as "1: -> FLOCK ...": the type reads "->". */
		if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%lu", type, &pid, &maj, &min, &ino) ==
			    5 &&
		    strcmp(type, "FLOCK") == 0 && maj == major(st.st_dev) &&
		    min == minor(st.st_dev) && ino == st.st_ino)
			found = pid;
	}
	fclose(f);
	return found;
}

/* Whether pid runs; an ended one (gone, or a zombie) can hold a lock only
 * through children it left, which end with it (greeterd's store writers). */
static bool running(long pid)
{
	char path[64], buf[512], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/*
 * The lock is held, but the greeterd that took it ended (0: its pid is not
 * known here, as in a container once it is gone): wait, bounded, for what
 * it left to end. False when the lock is still held then.
 */
static bool wait_for_left(int fd, long pid, const char *what, const char *dir)
{
	uint64_t until = now_usec(CLOCK_MONOTONIC) + LEFT_WAIT_USEC;

	log_info("the %s %s is held by processes left by a greeterd that ended; waiting for them",
		 what, dir);
	while (now_usec(CLOCK_MONOTONIC) < until) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return true;
		if (pid > 0 && running(pid))
			return false;
		usleep(10000);
	}
	return false;
}

int dir_lock(const char *dir, const char *what, const char *option)
{
	bool left;
	int fd, err;
	long pid;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		log_error("cannot open the %s %s: %s", what, dir, strerror(-err));
		return err;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	err = -errno;
	if (err == -EWOULDBLOCK) {
		pid = lock_holder(fd);
		left = !(pid > 0 && running(pid));
		if (left && wait_for_left(fd, pid, what, dir))
			return fd;
		if (left && pid > 0)
			log_error("the %s %s is still held by a process left by the greeterd (pid "
				  "%ld) that ended (one waiting on a stalled disk, say); start "
				  "greeterd again once it has ended",
				  what, dir, pid);
		else if (pid > 0)
			log_error(
				"another greeterd (pid %ld) is using the %s %s; stop it first, or "
				"give this one another %s",
				pid, what, dir, option);
		else
			log_error(
				"another greeterd is using the %s %s; stop it first, or give this "
				"one another %s",
				what, dir, option);
		err = -EBUSY;
	} else {
		log_error("cannot lock the %s %s: %s", what, dir, strerror(-err));
	}
	close(fd);
	return err;
}
