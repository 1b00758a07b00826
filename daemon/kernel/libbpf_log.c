// SPDX-License-Identifier: LGPL-2.1-or-later
#include "libbpf_log.h"
#include "log.h"

#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* How libbpf hands over a refused program's verifier log (1.1 to 1.5 alike). */
static const char load_log_format[] =
	"libbpf: prog '%s': -- BEGIN PROG LOAD LOG --\n%s-- END PROG LOAD LOG --\n";

static char first_warning[512];
static char refused_prog[64];
static char verifier_reason[512];

static bool is_statistics(const char *line, size_t len)
{
	static const char *const prefixes[] = { "processed ", "verification time", "stack depth" };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);

		if (len >= n && strncmp(line, prefixes[i], n) == 0)
			return true;
	}
	return false;
}

void libbpf_log_find_reason(const char *log, char *out, size_t size)
{
	const char *reason = "";
	size_t reason_len = 0;

	while (*log) {
		size_t len = strcspn(log, "\n");

		if (len && !is_statistics(log, len)) {
			reason = log;
			reason_len = len;
		}
		log += len;
		if (*log)
			log++;
	}
	snprintf(out, size, "%.*s", (int)reason_len, reason);
}

/* --verbose: the whole log, a line at a time (log lines have a size limit). */
static void print_load_log(const char *prog, const char *log)
{
	log_debug("libbpf: prog '%s': the verifier's log:", prog);
	while (*log) {
		size_t len = strcspn(log, "\n");

		log_debug("libbpf:   %.*s", (int)len, log);
		log += len;
		if (*log)
			log++;
	}
}

/* libbpf hands its own formats through; the attribute says so to the compiler. */
__attribute__((format(printf, 2, 0))) static int on_libbpf(enum libbpf_print_level level,
							   const char *fmt, va_list args)
{
	char line[1024];
	const char *text;
	size_t n;

	if (level == LIBBPF_WARN && strcmp(fmt, load_log_format) == 0) {
		va_list copy;
		const char *log;

		/* The log may be megabytes: take the two strings, not the whole text. */
		va_copy(copy, args);
		snprintf(refused_prog, sizeof(refused_prog), "%s", va_arg(copy, const char *));
		log = va_arg(copy, const char *);
		va_end(copy);
		libbpf_log_find_reason(log, verifier_reason, sizeof(verifier_reason));
		if (log_verbose())
			print_load_log(refused_prog, log);
		return 0;
	}
	if (level != LIBBPF_WARN && !log_verbose())
		return 0;
	vsnprintf(line, sizeof(line), fmt, args);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	/* libbpf's own formats begin with its name. */
	text = strncmp(line, "libbpf: ", 8) == 0 ? line + 8 : line;
	if (level == LIBBPF_WARN && !first_warning[0])
		snprintf(first_warning, sizeof(first_warning), "%.*s", (int)strcspn(text, "\n"),
			 text);
	log_debug("libbpf: %s", text);
	return 0;
}

void libbpf_log_init(void)
{
	libbpf_set_print(on_libbpf);
}

void libbpf_log_reset(void)
{
	first_warning[0] = refused_prog[0] = verifier_reason[0] = '\0';
}

const char *libbpf_log_first_warning(void)
{
	return first_warning[0] ? first_warning : NULL;
}

const char *libbpf_log_verifier_reason(const char **prog)
{
	if (!verifier_reason[0])
		return NULL;
	*prog = refused_prog;
	return verifier_reason;
}
