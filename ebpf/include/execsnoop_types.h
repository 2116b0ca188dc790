// SPDX-License-Identifier: GPL-2.0-only
/*
 * Event layout shared by ebpf/src/execsnoop.bpf.c and the agent's TypeScript decoder
 * (src/ebpf/gen/execsnoop_types.ts is generated from this file by scripts/gen-ebpf-types.ts).
 *
 * A ring-buffer record is `struct execsnoop_event` followed by exactly `args_size` bytes of
 * NUL-terminated argv strings. Records are variable-sized (header + args_size), never larger
 * than EXECSNOOP_RECORD_MAX.
 */
#ifndef __EXECSNOOP_TYPES_H
#define __EXECSNOOP_TYPES_H

#define TASK_COMM_LEN 16
#define ARGSIZE 128
#define TOTAL_MAX_ARGS 60
#define DEFAULT_MAXARGS 20
#define FULL_MAX_ARGS_ARR (TOTAL_MAX_ARGS * ARGSIZE)
#define EXECSNOOP_RINGBUF_BYTES (1 << 20)

struct execsnoop_event {
	__s32 pid;
	__s32 ppid;
	__u32 uid;
	__s32 retval;
	__s32 args_count;
	__u32 args_size;
	char comm[TASK_COMM_LEN];
	__u64 timestamp_ns;
};

#endif /* __EXECSNOOP_TYPES_H */
