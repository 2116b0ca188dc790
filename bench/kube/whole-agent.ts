// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The whole agent in bench/kube: the compiled binary (dist/antimetal-agent) with the cluster view on
 * and a file-backed store, watched from outside through /proc: time to /readyz (every kind listed
 * and stored), peak RSS (VmHWM) over the initial sync, RSS once settled, and RSS samples while the
 * churn runs (for the growth bound). Also the churn driver both bench/kube agents are measured under.
 */

import * as fs from "node:fs";
import type { KubeTestEnv } from "../../test/helpers/kube-testenv.ts";

const MiB = 1024 * 1024;

export function procStatus(pid: number): { rss: number; hwm: number } {
  const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN) * 1024;
  return { rss: kib("VmRSS"), hwm: kib("VmHWM") };
}

export function procCpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function freePort(): Promise<number> {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const p = s.port!;
  s.stop(true);
  return p;
}

export interface WholeAgent {
  proc: ReturnType<typeof Bun.spawn>;
  readyMs: number;
  cpuMsAtReady: number;
  stop(): Promise<void>;
}

/** Starts the binary and waits for /readyz; returns once ready (or throws after timeoutMs). */
export async function startWholeAgent(binary: string, kubeconfig: string, dataDir: string, timeoutMs: number): Promise<WholeAgent> {
  const port = await freePort();
  const t0 = performance.now();
  const proc = Bun.spawn(
    [
      binary,
      "run",
      "--kubeconfig",
      kubeconfig,
      "--leader-elect=false",
      "--kubernetes-provider",
      "generic",
      "--cluster-name",
      "bench",
      "--data-directory",
      dataDir,
      "--intake-address",
      "",
      "--health-probe-bind-address",
      `127.0.0.1:${port}`,
      "--metrics-bind-address",
      "0",
      "--enable-hardware-discovery=false",
      "--log-level",
      "warn",
    ],
    { stdout: "ignore", stderr: "inherit" },
  );
  const deadline = t0 + timeoutMs;
  for (;;) {
    if (performance.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`agent binary not ready within ${timeoutMs} ms`);
    }
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) break;
    } catch (e) {
      void e; // not listening yet
    }
    await Bun.sleep(20);
  }
  const readyMs = performance.now() - t0;
  const cpuMsAtReady = procCpuMs(proc.pid);
  return {
    proc,
    readyMs,
    cpuMsAtReady,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

/** RSS every `everyMs` until stopped; returns [seconds since start, MiB] pairs. */
export function sampleRss(pid: number, everyMs: number): { stop(): Array<[number, number]> } {
  const t0 = performance.now();
  const samples: Array<[number, number]> = [];
  const take = () => {
    try {
      samples.push([(performance.now() - t0) / 1000, procStatus(pid).rss / MiB]);
    } catch (e) {
      void e; // the process ended
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

/** Least-squares slope of RSS over the samples after the first `skipFraction` of the run, in MiB/hour. */
export function growthMiBPerHour(samples: Array<[number, number]>, skipFraction = 0.25): number {
  const end = samples.at(-1)?.[0] ?? 0;
  const xs = samples.filter(([t]) => t >= end * skipFraction);
  if (xs.length < 3) return NaN;
  const n = xs.length;
  const mx = xs.reduce((a, [t]) => a + t, 0) / n;
  const my = xs.reduce((a, [, v]) => a + v, 0) / n;
  let num = 0;
  let den = 0;
  for (const [t, v] of xs) {
    num += (t - mx) * (v - my);
    den += (t - mx) ** 2;
  }
  return den === 0 ? NaN : (num / den) * 3600;
}

export interface ChurnPlan {
  env: KubeTestEnv;
  /** PATCHes per second (label seq=k on a rotating existing pod). */
  patchRate: number;
  /** Pods created (and, once enough exist, the oldest churn pod deleted) per second. */
  createRate: number;
  seconds: number;
  /** Existing pods to patch: namespace and name by index. */
  pods: number;
  podRef(i: number): { ns: string; name: string };
  /** Body of a new pod in `ns` (name given). */
  newPod(ns: string, name: string): unknown;
  tag: string;
}

/** Runs the churn; `sent` maps "name:seq" to the PATCH request start and response times (epoch ms). */
export async function churn(p: ChurnPlan): Promise<{
  sent: Map<string, { start: number; done: number }>;
  achievedPatchRate: number;
  created: number;
  deleted: number;
  errors: number;
}> {
  const sent = new Map<string, { start: number; done: number }>();
  const inflight: Array<Promise<void>> = [];
  const live: Array<{ ns: string; name: string }> = [];
  let created = 0;
  let deleted = 0;
  let errors = 0;
  const total = Math.round(p.patchRate * p.seconds);
  const createEvery = p.createRate > 0 ? Math.max(1, Math.round(p.patchRate / p.createRate)) : 0;
  const t0 = performance.now();
  const check = async (res: Response, what: string) => {
    await res.arrayBuffer();
    if (!res.ok) {
      errors++;
      if (errors <= 3) console.error(`bench/kube churn: ${what}: ${res.status}`);
    }
  };
  for (let k = 1; k <= total; k++) {
    const wait = t0 + (k * 1000) / p.patchRate - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    const { ns, name } = p.podRef((k * 7919) % p.pods);
    const key = `${name}:${k}`;
    const start = performance.timeOrigin + performance.now();
    inflight.push(
      p.env
        .request(
          "PATCH",
          `/api/v1/namespaces/${ns}/pods/${name}`,
          { metadata: { labels: { seq: String(k) } } },
          "application/merge-patch+json",
        )
        .then(async (res) => {
          await check(res, "PATCH");
          if (res.ok) sent.set(key, { start, done: performance.timeOrigin + performance.now() });
        }),
    );
    if (createEvery && k % createEvery === 0) {
      const pod = { ns: p.podRef(k % p.pods).ns, name: `churn-${p.tag}-${k}` };
      live.push(pod);
      created++;
      inflight.push(p.env.request("POST", `/api/v1/namespaces/${pod.ns}/pods`, p.newPod(pod.ns, pod.name)).then((r) => check(r, "POST")));
      if (live.length > 50) {
        const old = live.shift()!;
        deleted++;
        inflight.push(
          p.env
            .request("DELETE", `/api/v1/namespaces/${old.ns}/pods/${old.name}`, { gracePeriodSeconds: 0 })
            .then((r) => check(r, "DELETE")),
        );
      }
    }
    if (inflight.length > 2000) await Promise.all(inflight.splice(0, 1000));
  }
  await Promise.all(inflight);
  const achievedPatchRate = total / ((performance.now() - t0) / 1000);
  // leave the cluster as it was for the next phase
  await Promise.all(
    live.map((o) =>
      p.env.request("DELETE", `/api/v1/namespaces/${o.ns}/pods/${o.name}`, { gracePeriodSeconds: 0 }).then((r) => r.arrayBuffer()),
    ),
  );
  deleted += live.length;
  return { sent, achievedPatchRate, created, deleted, errors };
}
