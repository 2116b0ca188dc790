// SPDX-License-Identifier: GPL-2.0-only
/*
 * Record layout shared by ebpf/src/oomkill.bpf.c and the agent's TypeScript decoder
 * (src/ebpf/gen/oomkill_types.ts is generated from this file by scripts/gen-ebpf-types.ts).
 *
 * One `struct oomkill_event` per OOM kill (tracepoint oom:mark_victim). Sizes are in kB as the
 * tracepoint reports them; 0 on kernels whose tracepoint lacks the field (before 6.x only the pid).
 */
#ifndef __OOMKILL_TYPES_H
#define __OOMKILL_TYPES_H

#define OOMKILL_COMM_LEN 16
#define OOMKILL_RINGBUF_BYTES (1 << 16)

struct oomkill_event {
	__u64 ts_ns;
	/* cgroup v2 id of the task that ran into the limit (for a memcg OOM, one in the victim's memcg) */
	__u64 trigger_cgroup_id;
	__u64 total_vm_kb;
	__u64 anon_rss_kb;
	__u64 file_rss_kb;
	__u64 shmem_rss_kb;
	/* kernfs id (= directory inode) of the triggering task's memory cgroup, v1 or v2; 0 without memcg */
	__u64 memcg_id;
	__u32 victim_pid;
	__u32 trigger_pid;
	__u32 uid;
	__s32 oom_score_adj;
	char comm[OOMKILL_COMM_LEN];
	char trigger_comm[OOMKILL_COMM_LEN];
};

#endif /* __OOMKILL_TYPES_H */
