// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Fixture hosts for the container_metrics tests: cgroup v1 (cgroupfs and systemd drivers) and v2 trees with a
// containerd CRI container, a docker container, a cri-o container and a plain `ctr run` container, plus each
// runtime's state files under the host root and the /proc entries the start times come from.

import type { Node } from "./tree.ts";

export const A = "a1".repeat(32); // containerd (CRI)
export const B = "b2".repeat(32); // docker
export const C = "c3".repeat(32); // cri-o
export const D = "d4".repeat(32); // plain `ctr run`, no runtime state the agent reads

const pidStat = (pid: number, comm: string, startTicks: number) =>
  `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 ${startTicks} 1000000 100 18446744073709551615\n`;

/** The host's runtime state and /proc: boot at 1700000000, USER_HZ 100 (no auxv in a fixture). */
function runtimeState(): Record<string, Node> {
  const cri = {
    "io.kubernetes.cri.container-type": "container",
    "io.kubernetes.cri.container-name": "web",
    "io.kubernetes.cri.sandbox-name": "web-5d9c7",
    "io.kubernetes.cri.sandbox-namespace": "shop",
    "io.kubernetes.cri.image-name": "docker.io/library/nginx:1.27",
  };
  return {
    "proc/stat": "cpu 1 2 3 4 5 6 7 0 0 0\nbtime 1700000000\n",
    "proc/4242/stat": pidStat(4242, "nginx", 150000), // containerd's init.pid: started at boot + 1500 s
    "proc/777/stat": pidStat(777, "sh", 250000), // first process of the plain ctr container: boot + 2500 s
    [`root/run/containerd/io.containerd.runtime.v2.task/k8s.io/${A}/config.json`]: JSON.stringify({
      ociVersion: "1.1.0",
      annotations: cri,
    }),
    [`root/run/containerd/io.containerd.runtime.v2.task/k8s.io/${A}/init.pid`]: "4242",
    [`root/var/lib/docker/containers/${B}/config.v2.json`]: JSON.stringify({
      ID: B,
      Created: "2025-01-02T03:04:05.5Z",
      Name: "/redis-cache",
      Config: { Image: "redis:7", Labels: {} },
    }),
    [`root/run/containers/storage/overlay-containers/${C}/userdata/config.json`]: JSON.stringify({
      annotations: {
        "io.kubernetes.container.name": "api",
        "io.kubernetes.pod.name": "api-0",
        "io.kubernetes.pod.namespace": "prod",
        "io.kubernetes.cri-o.ImageName": "quay.io/org/api:v3",
        "io.kubernetes.cri-o.Name": "k8s_api_api-0_prod_9999_0",
        "io.kubernetes.cri-o.Created": "2024-03-01T10:00:05Z",
      },
    }),
  };
}

export const V1_REL = {
  A: `kubepods/burstable/pod11111111-2222-3333-4444-555555555555/${A}`,
  B: `docker/${B}`,
  C: `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9999.slice/crio-${C}.scope`,
  D: `default/${D}`,
};

/** cgroup v1, separate cpu, cpuacct and memory hierarchies (as on the test VM). */
export function v1Host(): Record<string, Node> {
  const f: Record<string, Node> = runtimeState();
  const put = (h: string, rel: string, files: Record<string, string>) => {
    for (const [name, text] of Object.entries(files)) f[`sys/fs/cgroup/${h}/${rel}/${name}`] = text;
  };
  f["sys/fs/cgroup/memory/memory.stat"] = "cache 0\n"; // the root: a v1 host
  // containerd CRI, cgroupfs driver: quota 0.5 CPU, 128 MiB, throttled, one OOM kill.
  put("cpu", V1_REL.A, {
    "cpu.stat": "nr_periods 1000\nnr_throttled 250\nthrottled_time 12500000000\n",
    "cpu.shares": "512\n",
    "cpu.cfs_quota_us": "50000\n",
    "cpu.cfs_period_us": "100000\n",
    "cgroup.procs": "4242\n",
  });
  put("cpuacct", V1_REL.A, { "cpuacct.usage": "123456789012\n", "cpuacct.stat": "user 10000\nsystem 2345\n" });
  put("memory", V1_REL.A, {
    "memory.stat":
      "cache 1\nrss 2\ninactive_file 3\ntotal_cache 8388608\ntotal_rss 33554432\ntotal_swap 0\ntotal_mapped_file 1048576\ntotal_active_file 4194304\ntotal_inactive_file 4194304\n",
    "memory.usage_in_bytes": "50331648\n",
    "memory.limit_in_bytes": "134217728\n",
    "memory.failcnt": "3\n",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
  });
  // docker: no quota, unlimited memory, inactive file above usage (working set floored at 0), no oom_kill line (kernel < 4.13).
  put("cpu", V1_REL.B, {
    "cpu.stat": "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
    "cpu.shares": "1024\n",
    "cpu.cfs_quota_us": "-1\n",
    "cpu.cfs_period_us": "100000\n",
  });
  put("cpuacct", V1_REL.B, { "cpuacct.usage": "5000000000\n", "cpuacct.stat": "user 300\nsystem 200\n" });
  put("memory", V1_REL.B, {
    "memory.stat":
      "total_cache 99999000\ntotal_rss 1000\ntotal_swap 4096\ntotal_mapped_file 0\ntotal_active_file 0\ntotal_inactive_file 200000000\n",
    "memory.usage_in_bytes": "100000000\n",
    "memory.limit_in_bytes": "9223372036854771712\n",
    "memory.failcnt": "0\n",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\n",
  });
  // cri-o, systemd driver: a usage counter above 2^53 (exact in JSON).
  put("cpu", V1_REL.C, {
    "cpu.stat": "nr_periods 10\nnr_throttled 0\nthrottled_time 0\n",
    "cpu.shares": "2\n",
    "cpu.cfs_quota_us": "-1\n",
    "cpu.cfs_period_us": "100000\n",
  });
  put("cpuacct", V1_REL.C, { "cpuacct.usage": "9007199254740993\n", "cpuacct.stat": "user 0\nsystem 0\n" });
  put("memory", V1_REL.C, {
    "memory.stat": "total_cache 0\ntotal_rss 4096\ntotal_swap 0\ntotal_mapped_file 0\ntotal_active_file 0\ntotal_inactive_file 0\n",
    "memory.usage_in_bytes": "4096\n",
    "memory.limit_in_bytes": "1073741824\n",
    "memory.failcnt": "0\n",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
  });
  // plain ctr (/<namespace>/<id>): cpu only (no memory files), start time from its first process.
  put("cpu", V1_REL.D, {
    "cpu.stat": "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
    "cpu.shares": "1024\n",
    "cpu.cfs_quota_us": "-1\n",
    "cpu.cfs_period_us": "100000\n",
    "cgroup.procs": "777\n778\n",
  });
  put("cpuacct", V1_REL.D, { "cpuacct.usage": "0\n", "cpuacct.stat": "user 0\nsystem 0\n" });
  return f;
}

export const V2_REL = {
  A: `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1111.slice/cri-containerd-${A}.scope`,
  B: `system.slice/docker-${B}.scope`,
  C: `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9999.slice/crio-${C}.scope`,
};

/** cgroup v2 (unified), systemd driver. */
export function v2Host(): Record<string, Node> {
  const f: Record<string, Node> = runtimeState();
  const put = (rel: string, files: Record<string, string>) => {
    for (const [name, text] of Object.entries(files)) f[`sys/fs/cgroup/${rel}/${name}`] = text;
  };
  f["sys/fs/cgroup/cgroup.controllers"] = "cpuset cpu io memory pids\n";
  put("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1111.slice", { "cgroup.procs": "" }); // a pod, not a container
  put(V2_REL.A, {
    "cgroup.procs": "4242\n",
    "cpu.stat": "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 400\nnr_throttled 40\nthrottled_usec 3000000\n",
    "cpu.max": "25000 100000\n",
    "cpu.weight": "100\n",
    "memory.stat": "anon 20971520\nfile 10485760\nfile_mapped 4096\nactive_file 6291456\ninactive_file 4194304\n",
    "memory.current": "31457280\n",
    "memory.max": "268435456\n",
    "memory.events": "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\n",
    "memory.swap.current": "0\n",
  });
  // docker: no quota (cpu.max "max"), memory.max "max", no swap accounting file.
  put(V2_REL.B, {
    "cgroup.procs": "5000\n",
    "cpu.stat": "usage_usec 1000\nuser_usec 600\nsystem_usec 400\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
    "cpu.max": "max 100000\n",
    "cpu.weight": "39\n",
    "memory.stat": "anon 8192\nfile 0\nfile_mapped 0\nactive_file 0\ninactive_file 0\n",
    "memory.current": "8192\n",
    "memory.max": "max\n",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
  });
  // cri-o's monitor process, in a scope named after the container: not the container's cgroup.
  put(V2_REL.C.replace("crio-", "crio-conmon-"), { "cgroup.procs": "5999\n", "cpu.stat": "usage_usec 1\n", "memory.stat": "anon 1\n" });
  // cri-o: a usage counter whose nanoseconds exceed 2^64 / 1000 * 1000 (exact u64 in JSON).
  put(V2_REL.C, {
    "cgroup.procs": "6000\n",
    "cpu.stat": "usage_usec 18446744073709551\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
    "cpu.max": "max 100000\n",
    "cpu.weight": "1\n",
    "memory.stat": "anon 0\nfile 0\nfile_mapped 0\nactive_file 0\ninactive_file 0\n",
    "memory.current": "0\n",
    "memory.max": "max\n",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
    "memory.swap.current": "0\n",
  });
  return f;
}
