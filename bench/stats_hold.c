// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * stats_hold: keep BPF run-time statistics on for as long as it runs, and
 * read them for the bench.
 *
 * Holding a BPF_ENABLE_STATS fd turns statistics on for this process's
 * lifetime only: the shared kernel.bpf_stats_enabled sysctl is left alone,
 * and nothing stays on if the bench dies.
 *
 * Prints "ready", then for each line of program IDs on standard input prints
 * one line of "ID,RUN_TIME_NS,RUN_CNT" triples (-1 for a program that is
 * gone). Exits when standard input closes.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void show(unsigned int id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	memset(&info, 0, sizeof(info));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) < 0) {
		printf(" %u,-1,-1", id);
	} else {
		printf(" %u,%llu,%llu", id, (unsigned long long)info.run_time_ns,
		       (unsigned long long)info.run_cnt);
	}
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	char line[4096];
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	if (fd < 0) {
		fprintf(stderr, "stats_hold: BPF_ENABLE_STATS: %s\n", strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		char *p = line, *end;

		printf("stats");
		for (;;) {
			unsigned long id = strtoul(p, &end, 10);

			if (end == p)
				break;
			show((unsigned int)id);
			p = end;
		}
		printf("\n");
		fflush(stdout);
	}
	close(fd);
	return 0;
}
