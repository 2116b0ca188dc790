// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Child process of bench/ebpf/tcpflow.ts: the agent's tcpflow collector counting the closes of
// connections to or from one port. Prints "ready" once attached; on a line from stdin it stops
// and prints JSON.

import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { Registry } from "prom-client";
import { registerEbpfMetrics, registerTcpflowMetrics, TCPFLOW_PROGRAMS, TcpflowCollector } from "../../src/ebpf/index.ts";
import { programRecursionMisses } from "../../src/ebpf/prog-misses.ts";

const port = Number(process.argv[2]);
let closes = 0;
let all = 0;
// Records of the storm's connections by kind and end (the client's end has dport = port).
const kinds = { connect: 0, accept: 0, close_client: 0, close_server: 0 };
const c = new TcpflowCollector({ metrics: registerTcpflowMetrics(new Registry()), ebpfMetrics: registerEbpfMetrics(new Registry()) });
await c.start((f) => {
  all++;
  if (f.sport !== port && f.dport !== port) return;
  if (f.kind === "close") {
    closes++;
    kinds[f.dport === port ? "close_client" : "close_server"]++;
  } else kinds[f.kind]++;
});
console.log("ready");
for await (const _line of console) break;
// Skipped runs per program, read before stop closes the fds.
const ids = c.programIds();
const misses = Object.fromEntries(TCPFLOW_PROGRAMS.map((name, i) => [name, String(programRecursionMisses([ids[i]!]))]));
// BPF run time and runs per program over this tracer's life (BPF_ENABLE_STATS is on while the storm runs).
const runs: Record<string, { run_time_ns: number; run_cnt: number }> = {};
for (const fd of readdirSync("/proc/self/fd")) {
  let info = "";
  try {
    if (readlinkSync(`/proc/self/fd/${fd}`) !== "anon_inode:bpf-prog") continue;
    info = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
  } catch {
    continue;
  }
  const id = Number(/^prog_id:\s*(\d+)/m.exec(info)?.[1]);
  const name = TCPFLOW_PROGRAMS[ids.indexOf(id)];
  if (name === undefined) continue;
  runs[name] = {
    run_time_ns: Number(/^run_time_ns:\s*(\d+)/m.exec(info)?.[1] ?? 0),
    run_cnt: Number(/^run_cnt:\s*(\d+)/m.exec(info)?.[1] ?? 0),
  };
}
await c.stop();
const s = c.stats();
console.log(
  JSON.stringify({
    closes,
    records: all,
    lost: String(s.lostRingbufFull + s.lostTableFull),
    skipped: String(s.lostRecursion),
    recovered: String(s.recovered),
    misses,
    runs,
    kinds,
    rejected: s.rejected,
  }),
);
process.exit(0);
