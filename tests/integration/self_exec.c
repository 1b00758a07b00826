// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A program that execs itself: "self_exec N" runs itself again from its own
 * path N more times, then exits 0 (test_self_exec). Each exec moves to the
 * next CPU it may run on, so that a task's execs meet on one CPU after
 * another CPU had one of them in between.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Onto CPU n modulo the CPUs online (a CPU not allowed leaves it where it is). */
static void next_cpu(long n)
{
	long count = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t one;

	if (count < 2 || count > CPU_SETSIZE)
		return;
	CPU_ZERO(&one);
	CPU_SET((int)(n % count), &one);
	sched_setaffinity(0, sizeof(one), &one);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	char next[24];

	if (n <= 0)
		return 0;
	snprintf(next, sizeof(next), "%ld", n - 1);
	next_cpu(n);
	execv(argv[0], (char *[]){ argv[0], next, NULL });
	perror("self_exec: execv");
	return 1;
}
