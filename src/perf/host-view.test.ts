// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The host view's decisions on proc trees laid out as the kernel shows them to a host process, a pod
// with the node's /proc, and a container with its own /proc (the live kernel cases are in
// test/deploy/containerd.test.ts).

import { afterEach, expect, test } from "bun:test";
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostPaths } from "./collector.ts";
import { defaultIo } from "./collectors/common.ts";
import { detectHostView, hostViewExposition, leftOutByView } from "./host-view.ts";

const HOST_MOUNTS = "21 1 8:1 / / rw - ext4 /dev/vda rw\n22 21 0:5 / /proc rw - proc proc rw\n";
const POD_MOUNTS = "901 800 0:60 / / ro - overlay overlay rw\n902 901 0:61 / /proc rw - proc proc rw\n";

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

/** A proc tree: PID 2 (kthreadd when the host's), PID 1 and self with their mountinfo and net/dev. */
function procTree(opts: { kthreadd: boolean; ownMounts: string; sharedNet: boolean; root?: string }): HostPaths {
  const base = mkdtempSync(join(tmpdir(), "host-view-"));
  dirs.push(base);
  const proc = join(base, "proc");
  for (const pid of ["1", "2", "self"]) mkdirSync(join(proc, pid, "net"), { recursive: true });
  writeFileSync(join(proc, "2/comm"), opts.kthreadd ? "kthreadd\n" : "sh\n");
  writeFileSync(join(proc, "1/mountinfo"), HOST_MOUNTS);
  writeFileSync(join(proc, "self/mountinfo"), opts.ownMounts);
  writeFileSync(join(proc, "1/net/dev"), "lo eth0 cni0\n");
  // One network namespace: the kernel shows the same procfs entry (inode) under every PID in it.
  if (opts.sharedNet) linkSync(join(proc, "1/net/dev"), join(proc, "self/net/dev"));
  else writeFileSync(join(proc, "self/net/dev"), "lo eth0\n");
  return { proc, sys: join(base, "sys"), dev: join(base, "dev"), etc: join(base, "etc"), var: join(base, "var"), root: opts.root };
}

const detect = (paths: HostPaths) => detectHostView(defaultIo(paths), paths, AbortSignal.timeout(5000));

test("a process on the host: same network namespace and mounts as PID 1", async () => {
  const view = await detect(procTree({ kthreadd: true, ownMounts: HOST_MOUNTS, sharedNet: true }));
  expect(view).toMatchObject({ network: "host", mounts: "host", mountsReason: "the agent shares PID 1's mount namespace" });
  expect(hostViewExposition(view)).toContain('antimetal_host_view_info{network="host",mounts="host"} 1\n');
  expect(leftOutByView(view, "node_network_receive_bytes_total")).toBe(false);
  expect(leftOutByView(view, "node_filesystem_size_bytes")).toBe(false);
});

test("the DaemonSet: the node's /proc, hostNetwork and the node's / at HOST_ROOT", async () => {
  const view = await detect(procTree({ kthreadd: true, ownMounts: POD_MOUNTS, sharedNet: true, root: "/host/root" }));
  expect(view).toMatchObject({ network: "host", mounts: "host", mountsReason: "host root at /host/root (HOST_ROOT)" });
});

test("a pod with the node's /proc but neither hostNetwork nor HOST_ROOT: both are the pod's, and their node_* families are left out", async () => {
  const view = await detect(procTree({ kthreadd: true, ownMounts: POD_MOUNTS, sharedNet: false }));
  expect(view).toMatchObject({ network: "pod", networkReason: "the agent has its own network namespace (no hostNetwork)", mounts: "pod" });
  expect(view.mountsReason).toContain("HOST_ROOT is not set");
  for (const family of [
    "node_network_receive_bytes_total",
    "node_netstat_Tcp_InSegs",
    "node_sockstat_TCP_inuse",
    "node_filesystem_size_bytes",
  ])
    expect(leftOutByView(view, family)).toBe(true);
  for (const family of ["node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_disk_reads_completed_total"])
    expect(leftOutByView(view, family)).toBe(false);
});

test("a container's own /proc (no kthreadd at PID 2): PID 1 is the container's, nothing is the host's", async () => {
  const view = await detect(procTree({ kthreadd: false, ownMounts: HOST_MOUNTS, sharedNet: true, root: "/host/root" }));
  expect(view.network).toBe("pod");
  expect(view.mounts).toBe("pod");
  expect(view.networkReason).toContain("is not the host's PID namespace (no kthreadd at PID 2)");
});
