// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Where the DaemonSet's requests/limits and the systemd unit's MemoryHigh/MemoryMax come from.
// Runs the compiled agent as the DaemonSet does (run, performance collectors, Kubernetes
// controller with leader election) against a real kube-apiserver (test/helpers/kube-testenv.ts),
// first with an empty cluster, then after creating --pods Pod objects, and prints one JSON object:
// RSS samples (MiB), peak RSS, and CPU use (millicores) per phase. `--host-only` runs it as a
// follower does (no Kubernetes controller; one phase); `--collectors` is passed on (e.g.
// all,execsnoop) and `--execs-per-second N` runs /bin/true N times a second meanwhile.
// `--pods-before-start` creates the Pods first, as when the agent (re)starts in a populated
// cluster: one phase, after the initial sync.
//
//   bun deploy/measure-resources.ts [--pods 2000] [--seconds 30] [--binary dist/antimetal-agent]
//                                   [--host-only] [--collectors all,execsnoop] [--execs-per-second 25]
//                                   [--pods-before-start]

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort, startKubeTestEnv } from "../test/helpers/kube-testenv.ts";

const args = process.argv.slice(2);
const get = (n: string, d: string) => (args.includes(n) ? args[args.indexOf(n) + 1]! : d);
const PODS = Number(get("--pods", "2000"));
const SECONDS = Number(get("--seconds", "30"));
const BINARY = path.resolve(get("--binary", path.join(import.meta.dir, "../dist/antimetal-agent")));
const HOST_ONLY = args.includes("--host-only");
const PODS_FIRST = args.includes("--pods-before-start");
const COLLECTORS = get("--collectors", "");
const EXECS_PER_SECOND = Number(get("--execs-per-second", "0"));
const TICK = 100; // USER_HZ on Linux

function status(pid: number) {
  const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)![1]);
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return { rssMiB: kb("VmRSS") / 1024, hwmMiB: kb("VmHWM") / 1024, cpuTicks: Number(stat[11]) + Number(stat[12]) };
}

async function phase(pid: number, seconds: number) {
  const start = status(pid);
  const t0 = performance.now();
  const samples: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await Bun.sleep(1000);
    samples.push(Math.round(status(pid).rssMiB));
  }
  const end = status(pid);
  const elapsed = (performance.now() - t0) / 1000;
  return {
    rssMiB: { min: Math.min(...samples), median: samples.sort((a, b) => a - b)[samples.length >> 1], max: Math.max(...samples) },
    peakRssMiB: Math.round(end.hwmMiB),
    cpuMillicores: Math.round(((end.cpuTicks - start.cpuTicks) / TICK / elapsed) * 1000),
  };
}

/** Creates `count` Pods on this node, 25 at a time; returns the seconds it took. */
async function createPods(count: number): Promise<number> {
  await env.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "load" } });
  const t0 = performance.now();
  for (let i = 0; i < count; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, count - i) }, (_, j) =>
        env
          .request("POST", "/api/v1/namespaces/load/pods", {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: `p-${i + j}`, labels: { app: `a${(i + j) % 50}`, tier: "load" } },
            spec: {
              nodeName: "measure-node",
              containers: [{ name: "c", image: "registry.example.com/app:1", resources: { requests: { cpu: "10m", memory: "16Mi" } } }],
            },
          })
          .then(async (r) => {
            if (r.status !== 201) throw new Error(`create pod: ${r.status} ${await r.text()}`);
          }),
      ),
    );
  }
  return Math.round((performance.now() - t0) / 100) / 10;
}

const env = await startKubeTestEnv();
let execs: ReturnType<typeof setInterval> | undefined;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-measure-"));
let agent: ReturnType<typeof spawn> | undefined;
try {
  const createdFirstSeconds = PODS_FIRST ? await createPods(PODS) : undefined;
  const [health, metrics] = [await freePort(), await freePort()];
  agent = spawn(
    BINARY,
    [
      "run",
      "--leader-elect",
      `--enable-kubernetes-controller=${!HOST_ONLY}`,
      "--enable-performance-collectors",
      ...(COLLECTORS ? [`--collectors=${COLLECTORS}`] : []),
      "--intake-address=",
      `--data-directory=${dir}`,
      `--health-probe-bind-address=127.0.0.1:${health}`,
      `--metrics-bind-address=127.0.0.1:${metrics}`,
    ],
    {
      env: { ...process.env, KUBECONFIG: env.kubeconfigPath, NODE_NAME: "measure-node", TMPDIR: dir },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const deadline = Date.now() + 30000;
  while (
    (await fetch(`http://127.0.0.1:${health}/readyz`).then(
      (r) => r.status,
      () => 0,
    )) !== 200
  ) {
    if (Date.now() > deadline) throw new Error("agent not ready after 30 s");
    await Bun.sleep(200);
  }
  const pid = agent.pid!;
  if (EXECS_PER_SECOND > 0) execs = setInterval(() => spawn("/bin/true", { stdio: "ignore" }), 1000 / EXECS_PER_SECOND);
  await Bun.sleep(3000);
  const run = {
    binary: BINARY,
    host: { cpus: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30) },
    seconds: SECONDS,
    collectors: COLLECTORS || "all",
    execsPerSecond: EXECS_PER_SECOND,
  };
  if (HOST_ONLY) {
    console.log(JSON.stringify({ ...run, hostOnly: true, idle: await phase(pid, SECONDS) }, null, 2));
  } else if (PODS_FIRST) {
    console.log(
      JSON.stringify({ ...run, pods: PODS, podCreateSeconds: createdFirstSeconds, podsBeforeStart: await phase(pid, SECONDS) }, null, 2),
    );
  } else {
    const empty = await phase(pid, SECONDS);
    const createSeconds = await createPods(PODS);
    const loaded = await phase(pid, SECONDS);
    console.log(JSON.stringify({ ...run, emptyCluster: empty, pods: PODS, podCreateSeconds: createSeconds, withPods: loaded }, null, 2));
  }
} finally {
  clearInterval(execs);
  agent?.kill("SIGTERM");
  await env.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
