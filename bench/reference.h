/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What reference.bpf.c and reference.c share. Include after __u32 and friends. */
#ifndef GREETER_BENCH_REFERENCE_H
#define GREETER_BENCH_REFERENCE_H

#define REF_MESSAGE_SIZE 64
#define REF_COMM_SIZE 16
#define REF_FILENAME_SIZE 256
#define REF_DEFAULT_UID 0xffffffffu

struct ref_message {
	char text[REF_MESSAGE_SIZE];
};

struct ref_event {
	__u64 boot_ns;
	__u32 pid;
	__u32 uid;
	char comm[REF_COMM_SIZE];
	char filename[REF_FILENAME_SIZE];
	char message[REF_MESSAGE_SIZE];
};

#endif
