// SPDX-License-Identifier: LGPL-2.1-or-later
#include "exec_id.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char boot_id[33];

const char *exec_id_boot(void)
{
	char text[64];
	size_t n = 0;

	if (boot_id[0])
		return boot_id;
	memset(boot_id, '0', 32);
	boot_id[32] = '\0';
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (f) {
		if (fgets(text, sizeof(text), f)) {
			for (const char *c = text; *c && n < 32; c++)
				if ((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))
					boot_id[n++] = *c;
		}
		fclose(f);
	}
	if (n != 32)
		memset(boot_id, '0', 32);
	return boot_id;
}

void exec_id_format(char out[EXEC_ID_SIZE], uint64_t exec_ns, uint32_t pid)
{
	if (!exec_ns) {
		out[0] = '\0';
		return;
	}
	snprintf(out, EXEC_ID_SIZE, "%s-%" PRIu64 "-%" PRIu32, exec_id_boot(), exec_ns, pid);
}

bool exec_id_parse(const char *id, uint64_t *exec_ns, uint32_t *pid)
{
	const char *boot = exec_id_boot(), *p;
	unsigned long long ns;
	unsigned long n;
	char *end;

	if (strncmp(id, boot, 32) != 0 || id[32] != '-')
		return false;
	p = id + 33;
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	ns = strtoull(p, &end, 10);
	if (errno || *end != '-' || ns == 0)
		return false;
	p = end + 1;
	if (*p < '0' || *p > '9')
		return false;
	n = strtoul(p, &end, 10);
	if (errno || *end || n == 0 || n > UINT32_MAX)
		return false;
	*exec_ns = ns;
	*pid = (uint32_t)n;
	return true;
}
