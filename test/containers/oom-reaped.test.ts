// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// OOM kills read after the victim was reaped, on the real kernel: the oomkill program's record carries the
// victim's own cgroup ids (read in the victim's context), so the runtime graph names the container without
// /proc. `run`'s oomkill wiring is given an empty directory as /proc, so every read of a victim's /proc entry
// fails as it does once the victim is reaped. The first victim is not the task that ran into the limit: a
// sleeping perl holding 16 MiB with oom_score_adj 1000 is chosen over the allocating `tail` (its record waits
// in the program until the victim exits); `tail` is killed next, by its own allocation. (Requires root and BTF.)

import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { oomKillEvents } from "../../src/cli/run.ts";
import { createRuntimeGraphComponent, OOM_TAGS, type RuntimeGraphComponent } from "../../src/containers/index.ts";
import { type OomKill, OomkillCollector } from "../../src/ebpf/oomkill.ts";
import { DEFAULT_HOST_PATHS } from "../../src/perf/collector.ts";
import type { Store } from "../../src/store/index.ts";
import { silentLogger, tempStore, until } from "./helpers.ts";
import { containerCgroup, type TestContainerCgroup } from "./oom-cgroup.ts";

const ID = randomBytes(32).toString("hex");
const emptyProc = mkdtempSync(join(tmpdir(), "oom-noproc-"));
let store: Store;
let cleanup: () => void;
let rg: RuntimeGraphComponent | undefined;
let raw: OomkillCollector | undefined;
let container: TestContainerCgroup | undefined;
const kills: OomKill[] = [];
const spawned: ReturnType<typeof Bun.spawn>[] = [];

function tags(): Map<string, string> | undefined {
  const r = store.listResources([{ kind: "", type: "antimetal.runtime.v1.ContainerNode" } as never]).find((x) => x.metadata?.name === ID);
  return r && new Map(r.metadata!.tags.map((t) => [t.key, t.value]));
}

beforeAll(async () => {
  expect(process.getuid?.()).toBe(0);
  ({ store, cleanup } = tempStore());
  container = containerCgroup(ID, 32 << 20);
  // The records as the program sends them (a second attach of the same program, /proc unseen too).
  raw = new OomkillCollector({ procRoot: emptyProc, registry: new Registry(), onKill: (k) => kills.push(k) });
  await raw.start();
  rg = createRuntimeGraphComponent({
    store,
    paths: DEFAULT_HOST_PATHS,
    intervalMs: 3_600_000,
    systemName: async () => "oom-host",
    logger: silentLogger,
    oomKills: oomKillEvents(silentLogger, emptyProc, false).events,
  });
  await rg.start();
}, 60_000);

afterAll(async () => {
  for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  await Promise.all(spawned.map((p) => p.exited));
  await rg?.stop(AbortSignal.timeout(5000));
  await raw?.stop();
  cleanup?.();
  container?.remove();
  rmSync(emptyProc, { recursive: true, force: true });
});

test("a victim gone from /proc, killed for another task's allocation: its kill still lands on its container's node", async () => {
  expect(await until("container node", () => tags(), 10_000)).toEqual(new Map());
  const sleeper = container!.spawn(`perl -e "\\$x = \\"a\\" x 8000000; sleep 120"`, 1000);
  spawned.push(sleeper);
  const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${sleeper.pid}/status`, "utf8"))?.[1] ?? 0);
  await until("the sleeper holding its memory", () => (rssKb() >= 16_000 ? true : undefined), 10_000);
  const tail = container!.spawn("tail /dev/zero");
  spawned.push(tail);
  await Promise.all([sleeper.exited, tail.exited]);
  expect(sleeper.signalCode).toBe("SIGKILL");
  expect(tail.signalCode).toBe("SIGKILL");

  const t = await until("both kills on the container's node", () => (tags()?.get(OOM_TAGS.count) === "2" ? tags() : undefined), 10_000);
  expect([String(sleeper.pid), String(tail.pid)]).toContain(t.get(OOM_TAGS.pid)!);

  // The records: the victim's ids are its container's cgroups, whoever ran into the limit; no path without /proc.
  const ids = container!.ids;
  const victimIds = { victimCgroupId: ids.unified ?? 1n, victimMemcgId: ids.memory };
  const first = await until("the sleeper's record", () => kills.find((k) => k.victimPid === sleeper.pid), 10_000);
  expect(first).toMatchObject({ comm: "perl", triggerPid: tail.pid, triggerComm: "tail", cgroup: "", ...victimIds });
  const second = await until("tail's record", () => kills.find((k) => k.victimPid === tail.pid), 10_000);
  expect(second).toMatchObject({ comm: "tail", triggerPid: tail.pid, cgroup: "", ...victimIds });
  expect(kills.filter((k) => k.victimPid === sleeper.pid || k.victimPid === tail.pid)).toHaveLength(2);
}, 60_000);
