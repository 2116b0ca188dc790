// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Child process of bench/ebpf/run.ts: the agent's execsnoop collector counting events that carry
// a marker argument. Prints "ready" once attached; on a line from stdin it stops and prints JSON.

import { Registry } from "prom-client";
import { type ExecRecordData, ExecsnoopCollector, registerEbpfMetrics } from "../../src/ebpf/index.ts";

const marker = process.argv[2] ?? "antimetal-bench";
let seen = 0;
let all = 0;
const c = new ExecsnoopCollector({
  metrics: registerEbpfMetrics(new Registry()),
  ringBytes: Number(process.env.RING_BYTES ?? 1 << 20),
  ...(process.env.WAKEUP_BYTES !== undefined ? { wakeupBytes: Number(process.env.WAKEUP_BYTES) } : {}),
});
await c.start((ev) => {
  all++;
  const d = ev.data as ExecRecordData;
  if (d.args[1] === marker) seen++;
});
console.log("ready");
for await (const _line of console) break;
await c.stop();
const s = c.stats();
console.log(JSON.stringify({ seen, events: all, lost: String(s.lostRingbufFull + s.lostPendingFull), rejected: s.rejected }));
process.exit(0);
