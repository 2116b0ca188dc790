// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Startup benchmark: binary size, time from exec to a 200 on /readyz, and idle RSS after N seconds
// (default 60), for dist/antimetal-agent with only the HTTP server running, beside a hello-world
// Bun.serve binary built the same way (bytecode, ESM, baseline x64, no runtime autoload).
// --baseline-binary PATH measures an earlier build the same way in the same run.
// --kube also measures with the cluster view on: a real kube-apiserver (test/helpers/kube-testenv),
// the agent (and the baseline) run with --kubeconfig until /readyz (every kind listed and stored),
// then idle; plus the cost of the lazily loaded cluster modules (import and first use, each alone in
// a fresh process) in a compiled probe built like the agent (client-node's KubeConfig, the AWS SDK
// credential chain + EC2 client).
// Prints one JSON object. Usage: bun bench/startup/run.ts [--idle-seconds 60] [--runs 10]
//   [--baseline-binary PATH] [--kube]

import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "../..");
const arg = (name: string, def: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : def);
const idleSeconds = arg("--idle-seconds", 60);
const runs = arg("--runs", 10);
const agent = join(root, "dist/antimetal-agent");
const baseline = process.argv.includes("--baseline-binary") ? process.argv[process.argv.indexOf("--baseline-binary") + 1] : undefined;
const withKube = process.argv.includes("--kube");

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

type Kind = "agent" | "hello" | "baseline" | "agent_kube" | "baseline_kube";
const binaryOf = (kind: Kind) => (kind === "hello" ? hello : kind.startsWith("baseline") ? baseline! : agent);
let kubeconfig = "";

async function start(kind: Kind) {
  const port = await freePort();
  const kubeFlags = kind.endsWith("_kube")
    ? [
        "--kubeconfig",
        kubeconfig,
        "--enable-kubernetes-controller=true",
        "--leader-elect=false",
        "--kubernetes-provider",
        "generic",
        "--cluster-name",
        "bench",
      ]
    : ["--enable-kubernetes-controller=false"];
  const cmd =
    kind === "hello"
      ? [hello, String(port)]
      : [
          binaryOf(kind),
          "run",
          "--health-probe-bind-address",
          `127.0.0.1:${port}`,
          "--metrics-bind-address",
          "0",
          "--data-directory",
          "",
          "--intake-address",
          "",
          ...kubeFlags,
          "--enable-hardware-discovery=false",
          "--log-level",
          "warn",
        ];
  const t0 = performance.now();
  const proc = Bun.spawn(cmd, { stdout: "ignore", stderr: "ignore" });
  const t1 = await waitReady(port, kind === "hello" ? "/" : "/readyz", t0 + 20_000);
  return { proc, readyMs: t1 - t0 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const result: Record<string, unknown> = { runs, idle_seconds: idleSeconds };

/** Ready times of several kinds, interleaved run by run so load changes on a shared machine hit all alike. */
async function readyTimes(kinds: Kind[]): Promise<Map<Kind, number[]>> {
  const ready = new Map<Kind, number[]>(kinds.map((k) => [k, []]));
  for (let i = 0; i < runs; i++) {
    for (const kind of kinds) {
      const { proc, readyMs } = await start(kind);
      ready.get(kind)!.push(readyMs);
      proc.kill("SIGTERM");
      await proc.exited;
    }
  }
  return ready;
}

async function measure(kinds: Kind[]): Promise<void> {
  const ready = await readyTimes(kinds);
  for (const kind of kinds) {
    const { proc } = await start(kind);
    await Bun.sleep(idleSeconds * 1000);
    const rss = rssKiB(proc.pid);
    proc.kill("SIGTERM");
    await proc.exited;
    const times = ready.get(kind)!;
    result[kind] = {
      binary_bytes: statSync(binaryOf(kind)).size,
      ready_ms_median: Number(median(times).toFixed(1)),
      ready_ms_all: times.map((x) => Number(x.toFixed(1))),
      idle_rss_mib: Number((rss / 1024).toFixed(1)),
    };
  }
}

/** Import cost of the cluster modules in a compiled probe built like the agent (bytecode, splitting, plugins). */
async function importProbe(): Promise<Record<string, number>> {
  const probeSrc = join(root, `.bench-import-probe-${process.pid}.ts`);
  writeFileSync(
    probeSrc,
    [
      `const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(require("node:fs").readFileSync("/proc/self/status", "utf8"))![1]) / 1024;`,
      `const which = process.argv[2];`,
      `const r0 = rss(); const t0 = performance.now();`,
      // import plus first use: client-node turns a kubeconfig into request options; the AWS SDK
      // resolves environment credentials and sends one DescribeInstances to a closed port
      `if (which === "client_node") {`,
      `  const { KubeConfig } = await import("@kubernetes/client-node/dist/config.js");`,
      `  const kc = new KubeConfig();`,
      `  kc.loadFromClusterAndUser({ name: "c", server: "https://127.0.0.1:1", skipTLSVerify: false }, { name: "u", token: "t" });`,
      `  await kc.applyToHTTPSOptions({ headers: {} });`,
      `} else {`,
      `  Object.assign(process.env, { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "s", AWS_EC2_METADATA_DISABLED: "true" });`,
      `  const { describeInstanceTags } = await import("./src/kube/providers/aws.ts");`,
      `  await describeInstanceTags({ region: "us-west-2", instanceId: "i-0", timeoutMs: 500, endpoints: { ec2: "http://127.0.0.1:9" } }).catch((e) => void e);`,
      `}`,
      `console.log(JSON.stringify({ [which + "_ms"]: performance.now() - t0, [which + "_rss_mib"]: rss() - r0 }));`,
    ].join("\n"),
  );
  const probe = join(tmp, "probe");
  const { pluginsFor } = await import("../../scripts/build-plugins.ts");
  try {
    const built = await Bun.build({
      entrypoints: [probeSrc],
      compile: { target: "bun-linux-x64-baseline", outfile: probe, autoloadDotenv: false, autoloadBunfig: false },
      bytecode: true,
      format: "esm",
      splitting: true,
      minify: true,
      plugins: pluginsFor("x64").slice(1),
    });
    if (!built.success) throw new Error(`import probe build failed: ${built.logs.join("; ")}`);
  } finally {
    rmSync(probeSrc, { force: true });
  }
  // each module imported alone in a fresh process: modules they share are charged to both
  const out: Record<string, number> = {};
  for (const which of ["client_node", "aws_sdk"]) {
    const samples: Array<Record<string, number>> = [];
    for (let i = 0; i < runs; i++) samples.push(JSON.parse((await Bun.$`${probe} ${which}`.quiet()).stdout.toString()));
    for (const k of Object.keys(samples[0]!)) out[`${k}_median`] = Number(median(samples.map((x) => x[k]!)).toFixed(1));
  }
  return out;
}

const kinds: Kind[] = ["agent", "hello", ...(baseline ? (["baseline"] as const) : [])];
await measure(kinds);
if (withKube) {
  const { startKubeTestEnv } = await import("../../test/helpers/kube-testenv.ts");
  const env = await startKubeTestEnv();
  try {
    kubeconfig = env.kubeconfigPath;
    await measure(baseline ? ["agent_kube", "baseline_kube"] : ["agent_kube"]);
  } finally {
    await env.stop();
  }
  result.lazy_imports = await importProbe();
}
const a = result.agent as { binary_bytes: number; ready_ms_median: number; idle_rss_mib: number };
const h = result.hello as typeof a;
result.ratios = {
  size: Number((a.binary_bytes / h.binary_bytes).toFixed(3)),
  ready: Number((a.ready_ms_median / h.ready_ms_median).toFixed(2)),
  idle_rss: Number((a.idle_rss_mib / h.idle_rss_mib).toFixed(2)),
};
if (baseline) {
  const b = result.baseline as typeof a;
  (result.ratios as Record<string, number>).size_vs_baseline = Number((a.binary_bytes / b.binary_bytes).toFixed(4));
  (result.ratios as Record<string, number>).ready_vs_baseline = Number((a.ready_ms_median / b.ready_ms_median).toFixed(2));
  (result.ratios as Record<string, number>).idle_rss_vs_baseline = Number((a.idle_rss_mib / b.idle_rss_mib).toFixed(2));
}
if (withKube && baseline) {
  const ak = result.agent_kube as typeof a;
  const bk = result.baseline_kube as typeof a;
  (result.ratios as Record<string, number>).kube_ready_vs_baseline = Number((ak.ready_ms_median / bk.ready_ms_median).toFixed(2));
  (result.ratios as Record<string, number>).kube_idle_rss_vs_baseline = Number((ak.idle_rss_mib / bk.idle_rss_mib).toFixed(2));
}
result.targets = { ready_ms: 150, idle_rss_mib: 70, met: a.ready_ms_median < 150 && a.idle_rss_mib < 70 };
rmSync(tmp, { recursive: true, force: true });
console.log(JSON.stringify(result, null, 2));
