// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// An OOM kill on the runtime graph, on the real kernel: a memory-limited container cgroup made here
// (docker/<id>, as dockerd's cgroupfs driver names it, in every controller a process can join) holds a
// long-lived process and then one that allocates past the limit; the oomkill eBPF program attached as
// `run` attaches it without the service graph reports the kill and the container's node in the store
// carries it (oom_kills, last kill's time, pid and comm). (Requires root and BTF, as CI has.)

import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { oomKillEvents } from "../../src/cli/run.ts";
import { createRuntimeGraphComponent, OOM_TAGS, type OomKillEvents, type RuntimeGraphComponent } from "../../src/containers/index.ts";
import { DEFAULT_HOST_PATHS } from "../../src/perf/collector.ts";
import type { Store } from "../../src/store/index.ts";
import { silentLogger, tempStore, until } from "./helpers.ts";

const ID = randomBytes(32).toString("hex");
const CG = "/sys/fs/cgroup";
let store: Store;
let cleanup: () => void;
let rg: RuntimeGraphComponent;
let keeper: Subprocess | undefined;
const made: string[] = [];

/** docker/<ID> in each controller hierarchy a process can join without setup (not cpuset); memory limited. */
function containerCgroup(limitBytes: number): string[] {
  const v2 = existsSync(join(CG, "cgroup.controllers"));
  const roots = v2 ? [CG] : ["cpu", "cpuacct", "memory", "pids", "blkio", "devices", "unified"].map((c) => join(CG, c)).filter(existsSync);
  if (v2) writeFileSync(join(CG, "cgroup.subtree_control"), "+memory");
  const procs: string[] = [];
  for (const r of roots) {
    const parent = join(r, "docker");
    if (!existsSync(parent)) {
      mkdirSync(parent);
      made.push(parent);
      if (v2) writeFileSync(join(parent, "cgroup.subtree_control"), "+memory");
    }
    const dir = join(parent, ID);
    mkdirSync(dir);
    made.push(dir);
    if (r.endsWith("/memory")) writeFileSync(join(dir, "memory.limit_in_bytes"), String(limitBytes));
    if (v2) {
      writeFileSync(join(dir, "memory.max"), String(limitBytes));
      if (existsSync(join(dir, "memory.swap.max"))) writeFileSync(join(dir, "memory.swap.max"), "0");
    }
    procs.push(join(dir, "cgroup.procs"));
  }
  return procs;
}

/** A shell that joins the container's cgroups, then execs `cmd`. */
const inContainer = (procs: string[], cmd: string) =>
  Bun.spawn(["sh", "-c", `for f in ${procs.join(" ")}; do echo $$ > $f || exit 9; done; exec ${cmd}`], {
    stdout: "ignore",
    stderr: "inherit",
  });

function tags(): Map<string, string> | undefined {
  const r = store.listResources([{ kind: "", type: "antimetal.runtime.v1.ContainerNode" } as never]).find((x) => x.metadata?.name === ID);
  return r && new Map(r.metadata!.tags.map((t) => [t.key, t.value]));
}

/** The runtime graph on this host, the interval at an hour: only the OOM kills trigger scans. */
const runtimeGraph = (oomKills: OomKillEvents | undefined) =>
  createRuntimeGraphComponent({
    store,
    paths: DEFAULT_HOST_PATHS,
    intervalMs: 3_600_000,
    systemName: async () => "oom-host",
    logger: silentLogger,
    oomKills,
  });

let procs: string[] = [];
beforeAll(async () => {
  expect(process.getuid?.()).toBe(0);
  ({ store, cleanup } = tempStore());
  procs = containerCgroup(24 << 20);
  keeper = inContainer(procs, "sleep 120");
  rg = runtimeGraph(oomKillEvents(silentLogger, "/proc", false).events);
  await rg.start();
}, 60_000);

afterAll(async () => {
  keeper?.kill("SIGKILL");
  await keeper?.exited;
  await rg?.stop(AbortSignal.timeout(5000));
  cleanup?.();
  for (const d of made.reverse()) {
    try {
      rmdirSync(d);
    } catch (e) {
      // EBUSY/ENOTEMPTY: a parent another test (or dockerd) also uses
      if (!["EBUSY", "ENOTEMPTY", "ENOENT"].includes((e as NodeJS.ErrnoException).code ?? "")) throw e;
    }
  }
});

test("a process OOM-killed in a container: the container's node records the kill (count, time, pid, comm) within seconds", async () => {
  // The container is in the graph, with no OOM kill yet.
  expect(await until("container node", () => tags(), 10_000)).toEqual(new Map());
  const t0 = Date.now();
  const victim = inContainer(procs, "tail /dev/zero");
  await victim.exited;
  expect(victim.signalCode).toBe("SIGKILL");
  const t = await until("OOM kill on the container's node", () => (tags()?.has(OOM_TAGS.count) ? tags() : undefined), 10_000);
  expect(t.get(OOM_TAGS.count)).toBe("1");
  expect(t.get(OOM_TAGS.pid)).toBe(String(victim.pid));
  expect(t.get(OOM_TAGS.comm)).toBe("tail");
  const at = Date.parse(t.get(OOM_TAGS.time)!);
  expect(at).toBeGreaterThanOrEqual(t0 - 1000);
  expect(at).toBeLessThanOrEqual(Date.now() + 1000);
  // The keeper lives on in the container: a second kill counts on.
  const second = inContainer(procs, "tail /dev/zero");
  await second.exited;
  const t2 = await until("second OOM kill", () => (tags()?.get(OOM_TAGS.count) === "2" ? tags() : undefined), 10_000);
  expect(t2.get(OOM_TAGS.pid)).toBe(String(second.pid));
  expect(keeper?.exitCode).toBeNull();
  // An agent restarted on the same store keeps the container's kills (read back from its node's tags).
  await rg.stop(AbortSignal.timeout(5000));
  rg = createRuntimeGraphComponent({
    store,
    paths: DEFAULT_HOST_PATHS,
    intervalMs: 3_600_000,
    systemName: async () => "oom-host",
    logger: silentLogger,
  });
  await rg.refresh();
  expect(tags()).toEqual(t2);
}, 60_000);
