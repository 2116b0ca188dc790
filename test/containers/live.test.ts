// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Live updates on the real kernel: with the procexit eBPF program attached and the interval at an
// hour, a new process gets its node once it reaches the minimum age, an exec rewrites its node, and
// its exit deletes it, each without waiting for the interval. (Requires root and BTF, as CI has.)

import { afterAll, beforeAll, expect, test } from "bun:test";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import type { Subprocess } from "bun";
import { createRuntimeGraphComponent, type RuntimeGraphComponent } from "../../src/containers/index.ts";
import { createProcexitTracer } from "../../src/ebpf/index.ts";
import { registry } from "../../src/metrics/registry.ts";
import { DEFAULT_HOST_PATHS } from "../../src/perf/collector.ts";
import { ProcessNodeSchema } from "../../src/proto/gen/antimetal/runtime/v1/process_pb.ts";
import type { Store } from "../../src/store/index.ts";
import { silentLogger, tempStore, until } from "./helpers.ts";

let store: Store;
let cleanup: () => void;
let rg: RuntimeGraphComponent;
const children: Subprocess<"pipe", "ignore", "ignore">[] = [];

beforeAll(async () => {
  ({ store, cleanup } = tempStore());
  rg = createRuntimeGraphComponent({
    store,
    paths: DEFAULT_HOST_PATHS,
    intervalMs: 3_600_000,
    systemName: async () => "live-host",
    logger: silentLogger,
    liveEvents: createProcexitTracer({ logger: silentLogger }),
  });
  await rg.start();
}, 30_000);

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await rg?.stop(AbortSignal.timeout(5000));
  cleanup?.();
});

function node(pid: number) {
  const r = store
    .listResources([{ kind: "", type: "antimetal.runtime.v1.ProcessNode" } as never])
    .find((x) => x.metadata?.name === String(pid) && x.metadata.namespace?.namespace.case === "host");
  return r?.spec ? anyUnpack(r.spec, ProcessNodeSchema) : undefined;
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await registry.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(" ").pop()) : 0;
}

test("a process gets its node at the minimum age, is rewritten on exec and deleted on exit, with the interval at an hour", async () => {
  // The shell waits for a line on stdin (no other process), then execs into sleep.
  const child = Bun.spawn(["/bin/sh", "-c", "read line; exec /bin/sleep 60"], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
  children.push(child);
  const pid = child.pid;
  expect(node(pid)).toBeUndefined();
  // minimum age 5 s, then the due recheck
  const first = await until("node of the shell", () => node(pid), 9000);
  expect(first.command).toBe("sh");
  expect(first.cmdline).toBe("/bin/sh -c read line; exec /bin/sleep 60");
  // the exec into sleep rewrites it
  child.stdin.write("go\n");
  await child.stdin.flush();
  const execd = await until("node rewritten after the exec", () => (node(pid)?.command === "sleep" ? node(pid) : undefined), 5000);
  expect(execd.cmdline).toBe("/bin/sleep 60");
  // the exit deletes it
  child.kill("SIGKILL");
  await child.exited;
  await until("node deleted after the exit", () => (node(pid) ? undefined : true), 5000);
  // Every scan after the first was event-driven (on a shared host, other processes' events may run the ones that did it).
  let eventScans = 0;
  for (const t of ["young", "exec", "exit"]) eventScans += await metric("antimetal_runtime_graph_event_scans_total", `trigger="${t}"`);
  expect(eventScans).toBeGreaterThanOrEqual(3);
  expect(await metric("antimetal_procexit_events_total", 'kind="exit"')).toBeGreaterThanOrEqual(1);
}, 60_000);
