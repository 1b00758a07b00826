// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err_text.h"

/* Read to the end, at most max bytes; -EFBIG if there are more. */
static int read_to_end(int fd, size_t hint, size_t max, char **out, size_t *out_len)
{
	size_t cap = (hint < max ? hint : max) + 1;
	size_t len = 0;
	char *buf, *bigger;
	ssize_t n;

	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			/* The file grew since fstat(); one byte past max is
			 * enough to know it is too large. */
			if (cap > max)
				break;
			cap = cap * 2 > max ? max + 1 : cap * 2;
			bigger = realloc(buf, cap + 1);
			if (!bigger) {
				free(buf);
				return -ENOMEM;
			}
			buf = bigger;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		return -EFBIG;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

int file_read_all(const char *path, size_t max, char **buf, size_t *len, char *err,
		  size_t err_size)
{
	struct stat st;
	int fd, r;

	/* O_NONBLOCK: a FIFO in its place must not hang the daemon. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT) {
			set_err(err, err_size, "%s does not exist", path);
			return 1;
		}
		return set_errno(err, err_size, errno, "opening %s", path);
	}
	if (fstat(fd, &st) < 0) {
		r = set_errno(err, err_size, errno, "reading %s", path);
	} else if (!S_ISREG(st.st_mode)) {
		set_err(err, err_size, "%s is not a regular file", path);
		r = -EINVAL;
	} else {
		r = read_to_end(fd, (size_t)st.st_size, max, buf, len);
		if (r == -EFBIG)
			set_err(err, err_size, "%s is larger than %zu bytes", path, max);
		else if (r < 0)
			set_errno(err, err_size, -r, "reading %s", path);
	}
	close(fd);
	return r;
}
