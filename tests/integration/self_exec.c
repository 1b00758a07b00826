// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A program that execs itself: "self_exec N" runs itself again from its own
 * path N more times, then exits 0 (test_self_exec).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	char next[24];

	if (n <= 0)
		return 0;
	snprintf(next, sizeof(next), "%ld", n - 1);
	execv(argv[0], (char *[]){ argv[0], next, NULL });
	perror("self_exec: execv");
	return 1;
}
