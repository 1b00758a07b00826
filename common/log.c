// SPDX-License-Identifier: LGPL-2.1-or-later
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool verbose;
static bool prefix_priority;

/* systemd sets JOURNAL_STREAM=dev:ino when stderr goes to the journal. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void log_init(bool be_verbose)
{
	verbose = be_verbose;
	prefix_priority = stderr_is_journal();
}

bool log_verbose(void)
{
	return verbose;
}

void log_at(int priority, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (priority >= LOG_DEBUG && !verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (prefix_priority)
		fprintf(stderr, "<%d>%s\n", priority, line);
	else
		fprintf(stderr, "greeterd: %s\n", line);
}
