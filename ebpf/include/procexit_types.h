// SPDX-License-Identifier: GPL-2.0-only
/*
 * Event layout shared by ebpf/src/procexit.bpf.c and the agent's TypeScript decoder
 * (src/ebpf/gen/procexit_types.ts is generated from this file by scripts/gen-ebpf-types.ts).
 *
 * One fixed-size record per process (thread-group) exit or exec, for the runtime graph's live
 * updates. kind: PROCEXIT_KIND_EXIT or PROCEXIT_KIND_EXEC.
 */
#ifndef __PROCEXIT_TYPES_H
#define __PROCEXIT_TYPES_H

#define PROCEXIT_COMM_LEN 16
#define PROCEXIT_KIND_EXIT 1
#define PROCEXIT_KIND_EXEC 2
#define PROCEXIT_RINGBUF_BYTES (256 * 1024)

struct procexit_event {
	__s32 pid;
	__s32 ppid;
	__s32 exit_code;
	__u32 kind;
	char comm[PROCEXIT_COMM_LEN];
	__u64 timestamp_ns;
};

#endif /* __PROCEXIT_TYPES_H */
