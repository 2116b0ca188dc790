// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * OOM kills on the real kernel: a memory-limited cgroup made here (cgroup v2 memory.max where the
 * unified hierarchy has the memory controller, else v1 memory.limit_in_bytes), named like
 * kubelet's cgroup of a Pod, and a process in it that reads /dev/zero into memory without end
 * (`tail /dev/zero`). The kill is reported with the victim's pid, comm, cgroup and Pod UID, in
 * the log and in antimetal_oom_kills_total.
 */

import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Registry } from "prom-client";
import { type OomKill, OomkillCollector } from "../../src/ebpf/oomkill.ts";
import { createLogger } from "../../src/log/logger.ts";
import { CgroupPodResolver, podUidFromCgroupText } from "../../src/netgraph/index.ts";

const UID = "5e7a1c2b-3d4f-4a6b-8c9d-0e1f2a3b4c5d";
let cgroupDir = "";
let collector: OomkillCollector | undefined;

/** A memory-limited cgroup named like a Pod's; returns its directory. */
function limitedCgroup(bytes: number): string {
  const v2 = Bun.spawnSync(["findmnt", "-n", "-t", "cgroup2", "-o", "TARGET"]).stdout.toString().trim().split("\n")[0]!;
  const name = `am-oom${process.pid}-kubepods-besteffort-pod${UID.replaceAll("-", "_")}.slice`;
  if (v2 && readFileSync(join(v2, "cgroup.controllers"), "utf8").split(/\s+/).includes("memory")) {
    const dir = join(v2, name);
    mkdirSync(dir);
    writeFileSync(join(dir, "memory.max"), String(bytes));
    if (existsSync(join(dir, "memory.swap.max"))) writeFileSync(join(dir, "memory.swap.max"), "0");
    return dir;
  }
  const dir = join("/sys/fs/cgroup/memory", name);
  mkdirSync(dir);
  writeFileSync(join(dir, "memory.limit_in_bytes"), String(bytes));
  return dir;
}

afterAll(async () => {
  await collector?.stop();
  if (cgroupDir) rmdirSync(cgroupDir);
});

test("a process over its cgroup's memory limit is reported with pid, comm, cgroup and Pod, logged and counted", async () => {
  expect(process.getuid?.()).toBe(0);
  const reg = new Registry();
  const kills: OomKill[] = [];
  const logLines: string[] = [];
  const logger = createLogger({
    destination: new Writable({
      write(chunk, _enc, cb) {
        logLines.push(String(chunk));
        cb();
      },
    }),
  });
  const resolver = new CgroupPodResolver();
  collector = new OomkillCollector({
    registry: reg,
    logger,
    onKill: (k) => kills.push(k),
    cgroupPathOfId: (id, hierarchy) => resolver.pathOfId(id, hierarchy),
    resolvePod: (pid, cg, path) => {
      const uid = resolver.podUid(pid, cg) ?? podUidFromCgroupText(`0::${path}\n`);
      return uid ? { uid } : undefined;
    },
  });
  await collector.start();
  cgroupDir = limitedCgroup(24 << 20);
  const victim = Bun.spawn(["sh", "-c", `echo $$ > ${join(cgroupDir, "cgroup.procs")} && exec tail /dev/zero`], {
    stdout: "ignore",
    stderr: "ignore",
  });
  const code = await victim.exited;
  expect(victim.signalCode).toBe("SIGKILL");
  expect(code).not.toBe(0);
  for (let i = 0; i < 50 && kills.length === 0; i++) await Bun.sleep(100);
  const mine = kills.filter((k) => k.victimPid === victim.pid);
  expect(mine).toHaveLength(1);
  expect(mine[0]).toMatchObject({ victimPid: victim.pid, comm: "tail", pod: { uid: UID } });
  expect(mine[0]!.cgroup).toContain(`kubepods-besteffort-pod${UID.replaceAll("-", "_")}.slice`);
  // The memory cgroup's id names the same directory, whether or not /proc still had the victim.
  expect(mine[0]!.memcgId).toBe(statSync(cgroupDir, { bigint: true }).ino);
  expect(resolver.pathOfId(mine[0]!.memcgId, "memory")).toBe(`/${cgroupDir.split("/").pop()}`);
  expect(logLines.some((l) => l.includes('"msg":"OOM kill"') && l.includes(`"pid":${victim.pid}`) && l.includes(UID))).toBe(true);
  expect(await reg.metrics()).toContain(`antimetal_oom_kills_total{namespace="",pod="${UID}"} 1`);
}, 60_000);
