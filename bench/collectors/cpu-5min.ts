// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * CPU use of the host collectors at the default interval (10 s) over 5 minutes, with one /metrics
 * render per interval: runs bench/collectors/agent-child.ts in a child process and reads its
 * utime+stime from /proc/<pid>/stat. Not part of the test suite.
 *
 * Flags: --seconds N (default 300), --interval-ms N (default 10000).
 */

import { spawn } from "node:child_process";
import * as fs from "node:fs";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const seconds = arg("seconds", 300);
const intervalMs = arg("interval-ms", 10_000);

const ticks = (pid: number) => {
  const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
};
const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;

const child = spawn(process.execPath, [new URL("./agent-child.ts", import.meta.url).pathname], {
  env: { ...process.env, INTERVAL_MS: String(intervalMs) },
  stdio: ["ignore", "pipe", "inherit"],
});
await new Promise<void>((r) => child.stdout!.once("data", () => r()));
await Bun.sleep(2000); // past start-up and the first collections
const pid = child.pid!;
const t0 = performance.now();
const c0 = ticks(pid);
await Bun.sleep(seconds * 1000);
const c1 = ticks(pid);
const wall = (performance.now() - t0) / 1000;
const rssBytes = rss(pid);
child.kill("SIGTERM");
const cpuSeconds = (c1 - c0) / 100;
console.log(
  JSON.stringify(
    {
      seconds: Math.round(wall),
      interval_ms: intervalMs,
      cpu_seconds: cpuSeconds,
      cpu_percent_of_one_core: Math.round((cpuSeconds / wall) * 100 * 1000) / 1000,
      cycles: Math.floor((wall * 1000) / intervalMs),
      cpu_ms_per_cycle: Math.round(((cpuSeconds * 1000) / ((wall * 1000) / intervalMs)) * 100) / 100,
      rss_bytes: rssBytes,
    },
    null,
    2,
  ),
);
