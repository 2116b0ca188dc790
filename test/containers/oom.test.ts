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
import type { Subprocess } from "bun";
import { oomKillEvents } from "../../src/cli/run.ts";
import { createRuntimeGraphComponent, OOM_TAGS, type OomKillEvents, type RuntimeGraphComponent } from "../../src/containers/index.ts";
import { DEFAULT_HOST_PATHS } from "../../src/perf/collector.ts";
import type { Store } from "../../src/store/index.ts";
import { silentLogger, tempStore, until } from "./helpers.ts";
import { containerCgroup, type TestContainerCgroup } from "./oom-cgroup.ts";

const ID = randomBytes(32).toString("hex");
let store: Store;
let cleanup: () => void;
let rg: RuntimeGraphComponent;
let keeper: Subprocess | undefined;
let container: TestContainerCgroup | undefined;

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

beforeAll(async () => {
  expect(process.getuid?.()).toBe(0);
  ({ store, cleanup } = tempStore());
  container = containerCgroup(ID, 24 << 20);
  keeper = container.spawn("sleep 120");
  rg = runtimeGraph(oomKillEvents(silentLogger, "/proc", false).events);
  await rg.start();
}, 60_000);

afterAll(async () => {
  keeper?.kill("SIGKILL");
  await keeper?.exited;
  await rg?.stop(AbortSignal.timeout(5000));
  cleanup?.();
  container?.remove();
});

test("a process OOM-killed in a container: the container's node records the kill (count, time, pid, comm) within seconds", async () => {
  // The container is in the graph, with no OOM kill yet.
  expect(await until("container node", () => tags(), 10_000)).toEqual(new Map());
  const t0 = Date.now();
  const victim = container!.spawn("tail /dev/zero");
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
  const second = container!.spawn("tail /dev/zero");
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
