// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the OOM kill bookkeeping: a kill's container by cgroup path or ids, counts, tags and their read-back.

import { expect, test } from "bun:test";
import { ContainerCgroupIds, containerOfCgroup, OomRecords, oomTags } from "./oom.ts";

const A = "a".repeat(64);
const B = "b".repeat(64);

test("containerOfCgroup: the container's cgroup or one below it, else the id the path names, else none", () => {
  const cs = [{ id: A, cgroupPath: "/docker/" + A }];
  expect(containerOfCgroup(`/docker/${A}`, cs)).toBe(A);
  expect(containerOfCgroup(`/docker/${A}/child`, cs)).toBe(A);
  expect(containerOfCgroup(`/kubepods.slice/kubepods-pod1.slice/cri-containerd-${B}.scope`, cs)).toBe(B);
  expect(containerOfCgroup(`/system.slice/crio-conmon-${B}.scope`, cs)).toBe(B);
  expect(containerOfCgroup("/user.slice/session-1.scope", cs)).toBeUndefined();
  expect(containerOfCgroup("/", cs)).toBeUndefined();
  expect(containerOfCgroup("", cs)).toBeUndefined();
});

test("records count per container, keep the last kill, read back from tags, and forget gone containers", () => {
  const r = new OomRecords();
  r.record(A, { timeMs: 1_000, pid: 7, comm: "a", cgroup: "" });
  r.record(A, { timeMs: 2_000, pid: 8, comm: "b", cgroup: "" });
  expect(r.get(A)).toEqual({ count: 2, lastMs: 2_000, pid: 8, comm: "b" });
  const tags = oomTags(r.get(A));
  expect(tags).toEqual([
    { key: "oom_kills", value: "2" },
    { key: "last_oom_kill_time", value: "1970-01-01T00:00:02.000Z" },
    { key: "last_oom_kill_pid", value: "8" },
    { key: "last_oom_kill_comm", value: "b" },
  ]);
  const back = new OomRecords();
  back.seed(B, tags as never);
  back.seed(A, [{ key: "other", value: "x" }] as never);
  expect(back.get(B)).toEqual(r.get(A));
  expect(back.get(A)).toBeUndefined();
  r.record(B, { timeMs: 100_000, pid: 9, comm: "c", cgroup: "" });
  r.retain(new Set(), 120_000); // A's last kill is old and A is gone; B's is recent (a container not scanned yet)
  expect(r.get(A)).toBeUndefined();
  expect(r.get(B)?.count).toBe(1);
  expect(oomTags(undefined)).toEqual([]);
});

test("ContainerCgroupIds: a kill's ids name the container whose cgroup they are, taken at its first scan and kept while it lives", () => {
  const inodes = new Map<string, bigint>([
    [`/cg/${A}`, 100n], // v2
    [`/cg/unified/docker/${B}`, 200n], // v1 + unified (hybrid)
    [`/cg/memory/docker/${B}`, 300n],
  ]);
  const stats: string[] = [];
  const ids = new ContainerCgroupIds((dir) => {
    stats.push(dir);
    return inodes.get(dir);
  });
  ids.update("/cg", [
    { id: A, cgroupVersion: 2, relPath: A },
    { id: B, cgroupVersion: 1, relPath: `docker/${B}` },
  ]);
  expect(ids.containerOf({ unified: 100n, memory: 0n })).toBe(A);
  expect(ids.containerOf({ unified: 0n, memory: 100n })).toBe(A); // v2: the memory cgroup is the container's own
  expect(ids.containerOf({ unified: 200n, memory: 300n })).toBe(B);
  expect(ids.containerOf({ unified: 1n, memory: 300n })).toBe(B); // v1 process outside the unified tree
  expect(ids.containerOf({ unified: 1n, memory: 1n })).toBeUndefined(); // roots name nothing
  expect(ids.containerOf({ unified: 999n, memory: 0n })).toBeUndefined();
  // The cgroups are removed (the container's last process was the victim): the ids taken earlier still answer,
  // and a scan that still finds the container does not stat it again.
  inodes.clear();
  const before = stats.length;
  ids.update("/cg", [{ id: B, cgroupVersion: 1, relPath: `docker/${B}` }]);
  expect(stats.length).toBe(before);
  expect(ids.containerOf({ unified: 0n, memory: 300n })).toBe(B);
  expect(ids.containerOf({ unified: 100n, memory: 0n })).toBeUndefined(); // A is gone from the scans
});
