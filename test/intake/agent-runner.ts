// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A minimal agent for tests and the benchmark: the real store (SQLite file) and the intake
// component, nothing else. It is a separate process so tests can SIGKILL it.
//
//   bun test/intake/agent-runner.ts --data DIR --address HOST:PORT --ca CA [--api-key K]
//        [--write N] [--payload BYTES] [--rate N/s] [--exit-when-drained]
// Prints JSON lines on stdout: {"event":"started"}, {"event":"written","n":N}, {"event":"drained",...}.

import { parseArgs } from "node:util";
import { createIntakeComponent } from "../../src/intake/index.ts";
import { createLogger } from "../../src/log/logger.ts";
import { openStore } from "../../src/store/index.ts";
import { resource } from "./fixtures.ts";

const { values: a } = parseArgs({
  options: {
    data: { type: "string" },
    address: { type: "string" },
    ca: { type: "string" },
    "api-key": { type: "string", default: "" },
    write: { type: "string", default: "0" },
    payload: { type: "string", default: "1024" },
    "batch-per-tx": { type: "string", default: "100" },
    "exit-when-drained": { type: "boolean", default: false },
    "write-before-start": { type: "boolean", default: false },
    /** Only fill the store (then exit), so a later run starts with a backlog in a fresh process. */
    "write-only": { type: "boolean", default: false },
    /** Benchmark of the delta path: write during an outage commanded on this control port, then time the drain. */
    "outage-control": { type: "string" },
    "max-backoff": { type: "string", default: "1000" },
    /** Soak: write `rate` objects/s for `duration` s (updates over `keys` objects, tagged with the write time). */
    rate: { type: "string", default: "0" },
    duration: { type: "string", default: "0" },
    keys: { type: "string", default: "10000" },
    "ack-interval": { type: "string", default: "2000" },
    "log-level": { type: "string", default: "warn" },
  },
});

const logger = createLogger({ level: a["log-level"] as "warn", format: "text" });
const store = openStore({ dataDirectory: a.data!, logger });
const emit = (o: object) => process.stdout.write(JSON.stringify(o) + "\n");
const intake = createIntakeComponent({
  address: a.address!,
  apiKey: a["api-key"],
  secure: !!a.ca,
  caFile: a.ca,
  maxStreamAge: 600_000,
  ackInterval: Number(a["ack-interval"]),
  outbox: store.outbox,
  logger,
  tuning: {
    backoff: { initialMs: Math.min(100, Number(a["max-backoff"])), multiplier: 1.5, maxMs: Number(a["max-backoff"]), jitter: 0.5 },
  },
});
const n = Number(a.write);
const payload = Number(a.payload);
const perTx = Number(a["batch-per-tx"]);
async function write(): Promise<void> {
  const w0 = performance.now();
  for (let i = 0; i < n; i += perTx) {
    const end = Math.min(n, i + perTx);
    store.batch(() => {
      for (let j = i; j < end; j++) store.updateResource(resource(`obj-${j}`, 1, { payloadBytes: payload }));
    });
    if ((i / perTx) % 10 === 0) await Bun.sleep(0);
  }
  if (n > 0) emit({ event: "written", n, ms: performance.now() - w0 });
}
if (a["write-before-start"] || a["write-only"]) await write();
if (a["write-only"]) {
  store.close();
  process.exit(0);
}
let t0 = performance.now();
let cpu0 = process.cpuUsage();
await intake.start();
emit({ event: "started", deltaVersion: intake.deltaVersion });
if (a["outage-control"]) {
  const control = (c: object) => fetch(`http://127.0.0.1:${a["outage-control"]}/cmd`, { method: "POST", body: JSON.stringify(c) });
  while (!intake.stats().every((s) => s.resyncs >= 1)) await Bun.sleep(10);
  await control({ random: { p: 1, codes: ["UNAVAILABLE"], when: "start" } });
  await write();
  await Bun.sleep(100);
  t0 = performance.now();
  cpu0 = process.cpuUsage();
  await control({ random: null });
} else if (!a["write-before-start"]) await write();

const rate = Number(a.rate);
if (rate > 0) {
  const keys = Number(a.keys);
  const until = performance.now() + Number(a.duration) * 1000;
  const samples: Array<{ s: number; rssMiB: number; depth: number; heapMiB: number }> = [];
  let written = 0;
  let nextSample = performance.now();
  const s0 = performance.now();
  const c0 = process.cpuUsage();
  while (performance.now() < until) {
    const due = Math.floor(((performance.now() - s0) / 1000) * rate);
    if (due > written) {
      const t = String(Date.now());
      store.batch(() => {
        for (; written < due; written++)
          store.updateResource(resource(`obj-${written % keys}`, written, { payloadBytes: payload, tags: { t } }));
      });
    }
    if (performance.now() >= nextSample) {
      nextSample += 1000;
      const mu = process.memoryUsage();
      samples.push({
        s: Math.round((performance.now() - s0) / 1000),
        rssMiB: +(mu.rss / 1048576).toFixed(1),
        heapMiB: +(mu.heapUsed / 1048576).toFixed(1),
        depth: store.outbox.stats("cluster").depth,
      });
    }
    await Bun.sleep(10);
  }
  const cpu = process.cpuUsage(c0);
  emit({
    event: "soak",
    written,
    seconds: (performance.now() - s0) / 1000,
    cpuMs: (cpu.user + cpu.system) / 1000,
    samples,
    stats: intake.stats(),
  });
}

if (a["exit-when-drained"]) {
  for (;;) {
    const depth = store.outbox.stats("cluster").depth + store.outbox.stats("instance").depth;
    if (depth === 0) break;
    await Bun.sleep(20);
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  emit({
    event: "drained",
    ms,
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    rssBytes: process.memoryUsage().rss,
    stats: intake.stats(),
  });
  await intake.stop(AbortSignal.timeout(5000));
  store.close();
  process.exit(0);
}
process.on("SIGTERM", async () => {
  await intake.stop(AbortSignal.timeout(5000));
  store.close();
  process.exit(0);
});
