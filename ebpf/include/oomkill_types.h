// SPDX-License-Identifier: GPL-2.0-only
/*
 * Record layout shared by ebpf/src/oomkill.bpf.c and the agent's TypeScript decoder
 * (src/ebpf/gen/oomkill_types.ts is generated from this file by scripts/gen-ebpf-types.ts).
 *
 * One `struct oomkill_event` per OOM kill (tracepoint oom:mark_victim). Sizes are in kB as the
 * tracepoint reports them; 0 on kernels whose tracepoint lacks the field (before 6.x only the pid).
 * The victim's own cgroup ids are taken in the victim's context: at the kill when the victim is the
 * task that ran into the limit, else at its exit (sched_process_exit, before the kernel detaches it
 * from its cgroups), when the record is submitted; so userspace names the victim's container after the
 * process is gone. Both are 0 when the pending-victims table was full (the record is then sent at once).
 */
#ifndef __OOMKILL_TYPES_H
#define __OOMKILL_TYPES_H

#define OOMKILL_COMM_LEN 16
#define OOMKILL_RINGBUF_BYTES (1 << 16)
/* Kills whose victim (not the triggering task) has not exited yet; past this many, sent without victim ids. */
#define OOMKILL_PENDING_MAX 256

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
	/* the victim's cgroup v2 id (cgroups->dfl_cgrp->kn->id; 1 = the v2 root, as on a v1-only host) */
	__u64 victim_cgroup_id;
	/* kernfs id (= directory inode) of the victim's memory cgroup, v1 or v2; 0 without memcg */
	__u64 victim_memcg_id;
};

#endif /* __OOMKILL_TYPES_H */
