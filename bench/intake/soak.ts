// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Steady-rate soak of the intake path: a separate agent process writes `rate` 1 KiB objects/s into
// the store (updates over 10k keys, tagged with the write time) for `duration` s while the intake
// streams them over TLS to the Node test server. Reports write-to-intake latency (server clock =
// agent clock), outbox depth, RSS over time (growth budget), CPU per 10k deltas, stream resets.
//
//   bun bench/intake/soak.ts [--rate 5000] [--duration 30]

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { IntakeServer, makePki, ROOT } from "../../test/intake/harness.ts";

const { values: a } = parseArgs({ options: { rate: { type: "string", default: "5000" }, duration: { type: "string", default: "30" } } });
const pki = makePki();
const srv = await IntakeServer.start({ pki, quiet: true, noRecord: true });
const dir = mkdtempSync(path.join(tmpdir(), "soak-intake-"));
try {
  const p = spawnSync(
    path.join(ROOT, "node_modules/.bin/bun"),
    [
      path.join(ROOT, "test/intake/agent-runner.ts"),
      "--data",
      dir,
      "--address",
      `localhost:${srv.port}`,
      "--ca",
      pki.ca,
      "--rate",
      a.rate!,
      "--duration",
      a.duration!,
      "--exit-when-drained",
      "--ack-interval",
      "5000",
    ],
    { encoding: "utf8", maxBuffer: 64 << 20 },
  );
  if (p.status !== 0) throw new Error(`agent failed: ${p.stderr}`);
  const events = p.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  const soak = events.find((e) => e.event === "soak");
  const st = await srv.state();
  const samples: Array<{ s: number; rssMiB: number; heapMiB: number; depth: number }> = soak.samples;
  const after10 = samples.find((x) => x.s >= 10) ?? samples[0]!;
  const last = samples.at(-1)!;
  const cluster = soak.stats.find((s: { channel: string }) => s.channel === "cluster");
  console.log(
    JSON.stringify(
      {
        bench: "intake-soak",
        loadAverage: (await Bun.file("/proc/loadavg").text()).trim(),
        targetRate: Number(a.rate),
        achievedWriteRate: Math.round(soak.written / soak.seconds),
        seconds: +soak.seconds.toFixed(1),
        delivered: st.records,
        latencyMs: st.latencyMs,
        maxOutboxDepth: Math.max(...samples.map((x) => x.depth)),
        rssMiB: {
          at10s: after10.rssMiB,
          end: last.rssMiB,
          max: Math.max(...samples.map((x) => x.rssMiB)),
          growthAfter10s: +(last.rssMiB - after10.rssMiB).toFixed(1),
        },
        heapMiB: { at10s: after10.heapMiB, end: last.heapMiB },
        agentCpuMsPer10kDeltas: +(soak.cpuMs / (soak.written / 10_000)).toFixed(1),
        agentCpuShare: +(soak.cpuMs / 1000 / soak.seconds).toFixed(2),
        streams: {
          acked: cluster.streamsAcked,
          failed: cluster.streamsFailed,
          watchdog: cluster.watchdogResets,
          resets: cluster.resetsByCode,
        },
        note: "agent CPU includes the store writes (same process); latency = server receipt - store commit",
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
  await srv.kill();
  pki.cleanup();
}
