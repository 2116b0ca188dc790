// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Process → Pod UID on the real cgroup v2 tree: a cgroup named like kubelet's for a Pod, a process
 * in it; the UID comes from /proc/<pid>/cgroup while it runs and from the cgroup id (the
 * directory's inode, what the eBPF programs record) after it has exited.
 */

import { afterAll, expect, test } from "bun:test";
import { mkdirSync, rmdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { CgroupPodResolver } from "../../src/netgraph/index.ts";
import { HostIo } from "../../src/perf/io.ts";

const UID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const root = Bun.spawnSync(["findmnt", "-n", "-t", "cgroup2", "-o", "TARGET"]).stdout.toString().trim().split("\n")[0]!;
const parent = join(root, `am-wl${process.pid}`);
const dir = join(parent, `kubepods-besteffort-pod${UID.replaceAll("-", "_")}.slice`);

afterAll(() => {
  rmdirSync(dir);
  rmdirSync(parent);
});

test("a Pod's process: UID from its cgroup path while alive, from its cgroup id once it has exited", async () => {
  expect(process.getuid?.()).toBe(0);
  mkdirSync(dir, { recursive: true });
  const id = statSync(dir, { bigint: true }).ino;
  const p = Bun.spawn(["sh", "-c", `echo $$ > ${join(dir, "cgroup.procs")} && exec sleep 30`], { stdout: "ignore" });
  for (let i = 0; i < 50 && !(await Bun.file(`/proc/${p.pid}/cgroup`).text()).includes("pod"); i++) await Bun.sleep(20);
  expect(new CgroupPodResolver().podUid(p.pid, id)).toBe(UID);

  // Host files go through HostIo: the process's cgroup file, then mountinfo and the cgroup tree's listing.
  const io = new HostIo("/sys", 4, "/proc");
  io.trace = new Set();
  const later = new CgroupPodResolver({ io });
  expect(later.podUid(p.pid, 1n)).toBe(UID);
  expect(io.trace.has(`r:/proc/${p.pid}/cgroup`)).toBe(true);
  p.kill();
  await p.exited;
  expect(later.podUid(p.pid, id)).toBe(UID); // /proc/<pid> is gone: found by cgroup id
  expect(io.trace.has("r:/proc/self/mountinfo")).toBe(true);
  expect(io.trace.has(`l:${parent}`)).toBe(true);
  expect(later.pathOfId(id)).toBe(`/am-wl${process.pid}/kubepods-besteffort-pod${UID.replaceAll("-", "_")}.slice`);
  expect(new CgroupPodResolver().podUid(process.pid, statSync(root, { bigint: true }).ino)).toBeUndefined();
});
