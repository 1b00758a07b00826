// SPDX-License-Identifier: LGPL-2.1-or-later
#include "dir_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "log.h"

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

int dir_lock(const char *dir, const char *what, const char *option)
{
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
		if (pid > 0)
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
