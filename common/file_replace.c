// SPDX-License-Identifier: LGPL-2.1-or-later
#include "file_replace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* err = the formatted text + ": " + strerror(e); returns -e. */
__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t err_size, int e,
						      const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	size_t n;

	if (err && err_size > 0) {
		va_start(ap, fmt);
		vsnprintf(err, err_size, fmt, ap);
		va_end(ap);
		n = strlen(err);
		snprintf(err + n, err_size - n, ": %s", strerror_r(e, buf, sizeof(buf)));
	}
	return -e;
}

int file_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int file_sync_dir(const char *dir)
{
	int fd, r = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int file_replace(const char *dir, const char *name, const void *data, size_t len, bool durable,
		 char *err, size_t err_size)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd, n, r;

	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return fail(err, err_size, ENAMETOOLONG, "%s/%s", dir, name);
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return fail(err, err_size, ENAMETOOLONG, "%s.tmp", path);

	/* O_NOFOLLOW: do not write through a link planted in our place. */
	fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0644);
	if (fd < 0)
		return fail(err, err_size, errno, "creating %s", tmp); /* nothing to remove */
	r = file_write_all(fd, data, len);
	if (r < 0) {
		r = fail(err, err_size, -r, "writing %s", tmp);
		goto fail;
	}
	if (durable && fsync(fd) < 0) {
		r = fail(err, err_size, errno, "syncing %s", tmp);
		goto fail;
	}
	/* close() can report a late write error (e.g. NFS). Linux closes the
	 * descriptor even on EINTR: never close it twice. */
	r = close(fd);
	fd = -1;
	if (r < 0 && errno != EINTR) {
		r = fail(err, err_size, errno, "closing %s", tmp);
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		r = fail(err, err_size, errno, "renaming %s to %s", tmp, path);
		goto fail;
	}
	if (!durable)
		return 0;
	/* The new name must survive a crash too. */
	r = file_sync_dir(dir);
	return r < 0 ? fail(err, err_size, -r, "syncing directory %s", dir) : 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}
