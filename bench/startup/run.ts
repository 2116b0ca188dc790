// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Startup benchmark: binary size, time from exec to a 200 on /readyz, and idle RSS after N seconds
// (default 60), for dist/antimetal-agent with only the HTTP server running, beside a hello-world
// Bun.serve binary built the same way (bytecode, ESM, baseline x64, no runtime autoload).
// Prints one JSON object. Usage: bun bench/startup/run.ts [--idle-seconds 60] [--runs 10]

import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "../..");
const arg = (name: string, def: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : def);
const idleSeconds = arg("--idle-seconds", 60);
const runs = arg("--runs", 10);
const agent = join(root, "dist/antimetal-agent");

const tmp = mkdtempSync(join(tmpdir(), "bench-startup-"));
const helloSrc = join(tmp, "hello.ts");
writeFileSync(
  helloSrc,
  `const s = Bun.serve({ hostname: "127.0.0.1", port: Number(process.argv[2]), fetch: () => new Response("ok\\n") });\nprocess.on("SIGTERM", () => { s.stop(true); process.exit(0); });\n`,
);
const hello = join(tmp, "hello");
const built = await Bun.build({
  entrypoints: [helloSrc],
  compile: { target: "bun-linux-x64-baseline", outfile: hello, autoloadDotenv: false, autoloadBunfig: false },
  bytecode: true,
  format: "esm",
  minify: true,
});
if (!built.success) throw new Error("hello-world build failed");

async function freePort(): Promise<number> {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const p = s.port!;
  s.stop(true);
  return p;
}

async function waitReady(port: number, path: string, deadline: number): Promise<number> {
  while (performance.now() < deadline) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}${path}`);
      if (r.status === 200) return performance.now();
    } catch {}
    await Bun.sleep(1);
  }
  throw new Error(`not ready on :${port}${path}`);
}

function rssKiB(pid: number): number {
  const status = require("node:fs").readFileSync(`/proc/${pid}/status`, "utf8") as string;
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

async function start(kind: "agent" | "hello") {
  const port = await freePort();
  const cmd =
    kind === "agent"
      ? [
          agent,
          "run",
          "--health-probe-bind-address",
          `127.0.0.1:${port}`,
          "--metrics-bind-address",
          "0",
          "--data-directory",
          "",
          "--intake-address",
          "",
          "--enable-kubernetes-controller=false",
          "--enable-hardware-discovery=false",
          "--log-level",
          "warn",
        ]
      : [hello, String(port)];
  const t0 = performance.now();
  const proc = Bun.spawn(cmd, { stdout: "ignore", stderr: "ignore" });
  const t1 = await waitReady(port, kind === "agent" ? "/readyz" : "/", t0 + 10_000);
  return { proc, readyMs: t1 - t0 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const result: Record<string, unknown> = { runs, idle_seconds: idleSeconds };
for (const kind of ["agent", "hello"] as const) {
  const ready: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { proc, readyMs } = await start(kind);
    ready.push(readyMs);
    proc.kill("SIGTERM");
    await proc.exited;
  }
  const { proc } = await start(kind);
  await Bun.sleep(idleSeconds * 1000);
  const rss = rssKiB(proc.pid);
  proc.kill("SIGTERM");
  await proc.exited;
  result[kind] = {
    binary_bytes: statSync(kind === "agent" ? agent : hello).size,
    ready_ms_median: Number(median(ready).toFixed(1)),
    ready_ms_all: ready.map((x) => Number(x.toFixed(1))),
    idle_rss_mib: Number((rss / 1024).toFixed(1)),
  };
}
const a = result.agent as { binary_bytes: number; ready_ms_median: number; idle_rss_mib: number };
const h = result.hello as typeof a;
result.ratios = {
  size: Number((a.binary_bytes / h.binary_bytes).toFixed(3)),
  ready: Number((a.ready_ms_median / h.ready_ms_median).toFixed(2)),
  idle_rss: Number((a.idle_rss_mib / h.idle_rss_mib).toFixed(2)),
};
result.targets = { ready_ms: 150, idle_rss_mib: 70, met: a.ready_ms_median < 150 && a.idle_rss_mib < 70 };
rmSync(tmp, { recursive: true, force: true });
console.log(JSON.stringify(result, null, 2));
