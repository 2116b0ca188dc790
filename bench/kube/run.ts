// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * bench/kube: initial sync of N pods (default 5000) plus their nodes, ReplicaSets, Deployments and
 * Services from a real kube-apiserver into the SQLite store, then churn for --seconds: pod PATCHes
 * at --rate per second plus pod creates (and deletes of older churn pods) at --create-rate,
 * measuring lag from the apiserver write to the store commit and RSS growth.
 * Two agents, one after the other on the same cluster: the kube controller alone in a Bun process
 * (agent.ts: sync rate, CPU, event-loop blocking, commit lag) and the whole compiled agent
 * (--binary, default dist/antimetal-agent: time to /readyz, peak RSS over the initial sync,
 * settled RSS, RSS growth under the same churn in MiB/hour).
 * Anchors measured in the same run: the apiserver's own cost of serving the pods (paginated
 * protobuf LIST by a bare fetch loop, no processing) and each agent's RSS on the empty cluster.
 * Usage: bash bench/run.sh kube [--pods 5000] [--nodes 50] [--rate 100] [--create-rate 5]
 *   [--seconds 60] [--binary PATH] [--no-binary] [--compare-binary PATH [--compare-runs 3]] [--trace FILE]
 *   [--agent-nice N] [--controller-seconds N] [--host-pod]
 * --controller-seconds: the controller's churn (the lag figures) for N seconds instead of --seconds,
 * so a long run of the whole agent's churn (RSS growth) does not take twice as long.
 * --compare-binary: an A/B of the whole agent's initial sync on the same cluster in the same run
 * (ready, CPU to ready, peak RSS over the sync, RSS 10 s and 60 s later), --binary and PATH alternating.
 * --host-pod: while the whole agent runs, this host has a container of pod-0 (host-pod.ts), so its
 * runtime graph links it to that Pod among all of them, as on a real node (needs root).
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { decodeEnvelope, findLen, getString } from "../../src/kube/pb.ts";
import { DEFAULT_JIT_TIERS, jitEnv } from "../../src/runtime/jit.ts";
import { type KubeTestEnv, startKubeTestEnv } from "../../test/helpers/kube-testenv.ts";
import { type HostPod, startHostPod } from "./host-pod.ts";
import { churn, growthMiBPerHour, procStatus, sampleRss, startWholeAgent } from "./whole-agent.ts";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const PODS = arg("pods", 5000);
const NODES = arg("nodes", 50);
const RATE = arg("rate", 100);
const SECONDS = arg("seconds", 60);
const CONTROLLER_SECONDS = arg("controller-seconds", SECONDS);
const CREATE_RATE = arg("create-rate", 5);
const BINARY = process.argv.includes("--binary")
  ? process.argv[process.argv.indexOf("--binary") + 1]!
  : path.join(import.meta.dir, "../../dist/antimetal-agent");
const WITH_BINARY = !process.argv.includes("--no-binary");
/** --compare-binary PATH: after the churn, initial syncs of --binary and PATH alternate --compare-runs times. */
const COMPARE = process.argv.includes("--compare-binary") ? process.argv[process.argv.indexOf("--compare-binary") + 1]! : undefined;
const COMPARE_RUNS = arg("compare-runs", 3);
const AGENT_NICE = process.argv.includes("--agent-nice") ? Number(process.argv[process.argv.indexOf("--agent-nice") + 1]) : undefined;
const TRACE = process.argv.includes("--trace") ? process.argv[process.argv.indexOf("--trace") + 1]! : undefined;
const HOST_POD = process.argv.includes("--host-pod");
const PER_RS = 50;
const NAMESPACES = 5;

async function post(env: KubeTestEnv, p: string, body: unknown): Promise<any> {
  for (let attempt = 0; ; attempt++) {
    const res = await env.request("POST", p, body);
    if (res.ok) return await res.json();
    const text = await res.text();
    if (res.status === 429 || res.status >= 500) {
      if (attempt < 20) {
        await Bun.sleep(100 * (attempt + 1));
        continue;
      }
    }
    throw new Error(`POST ${p}: ${res.status} ${text.slice(0, 300)}`);
  }
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const MiB = 1024 * 1024;

const env = await startKubeTestEnv();
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-kube-"));
let agent: ReturnType<typeof Bun.spawn> | undefined;
let hostPod: HostPod | undefined;
try {
  function spawnAgent(dir: string) {
    // BENCH_KUBE_AGENT_ARGS: extra bun flags for the controller process (e.g. "--cpu-prof-md --cpu-prof-dir=DIR")
    const extra = (process.env.BENCH_KUBE_AGENT_ARGS ?? "").split(" ").filter(Boolean);
    // --agent-nice N: the controller process at nice N (e.g. -10, as root), to rank it before the other jobs'
    // processes for a CPU; with sched_autogroup on, a nice value ranks it only within its own session's group
    const nice = AGENT_NICE === undefined ? [] : ["nice", "-n", String(AGENT_NICE)];
    const proc = Bun.spawn([...nice, process.execPath, ...extra, path.join(import.meta.dir, "agent.ts"), env.kubeconfigPath, dir], {
      stdout: "pipe",
      stderr: "inherit",
      // the controller's code under the compiled binary's default JIT tiers (run --jit)
      env: { ...process.env, ...jitEnv(DEFAULT_JIT_TIERS) },
    });
    const lines: Array<Record<string, any>> = [];
    void (async () => {
      const dec = new TextDecoder();
      let buf = "";
      for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
        buf += dec.decode(chunk);
        let i: number;
        while ((i = buf.indexOf("\n")) >= 0) {
          lines.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
      }
    })();
    const waitFor = async (type: string, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const l = lines.find((x) => x.type === type);
        if (l) return l;
        if (Date.now() > deadline) throw new Error(`agent: no ${type} within ${timeoutMs} ms`);
        await Bun.sleep(10);
      }
    };
    return { proc, lines, waitFor };
  }

  // anchor: the same agent synced on the empty cluster (fixed cost of a running controller)
  const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-kube-empty-"));
  const empty = spawnAgent(emptyDir);
  const emptySettled = await empty.waitFor("settled", 120_000);
  empty.proc.kill("SIGKILL");
  await empty.proc.exited;
  fs.rmSync(emptyDir, { recursive: true, force: true });
  // and the whole agent on the empty cluster, settled for 10 s
  let binaryEmpty: { rssMiB: number; readyMs: number } | undefined;
  if (WITH_BINARY) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-kube-bin-empty-"));
    const w = await startWholeAgent(BINARY, env.kubeconfigPath, dir, 60_000);
    await Bun.sleep(10_000);
    binaryEmpty = { rssMiB: round(procStatus(w.proc.pid).rss / MiB), readyMs: round(w.readyMs) };
    await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const tc0 = performance.now();
  await pool(
    Array.from({ length: NODES }, (_, i) => i),
    8,
    async (i) => {
      await post(env, "/api/v1/nodes", {
        metadata: { name: `node-${i}`, labels: { "topology.kubernetes.io/region": "r1", "topology.kubernetes.io/zone": `z${i % 3}` } },
      });
    },
  );
  for (let n = 0; n < NAMESPACES; n++) await post(env, "/api/v1/namespaces", { metadata: { name: `ns-${n}` } });
  const rsCount = Math.ceil(PODS / PER_RS);
  const owners: Array<{ ns: string; rs: { name: string; uid: string } }> = [];
  await pool(
    Array.from({ length: rsCount }, (_, i) => i),
    8,
    async (i) => {
      const ns = `ns-${i % NAMESPACES}`;
      const tmpl = {
        metadata: { labels: { app: `app-${i}` } },
        spec: { containers: [{ name: "c", image: "registry.k8s.io/pause:3.10" }] },
      };
      const dep = await post(env, `/apis/apps/v1/namespaces/${ns}/deployments`, {
        metadata: { name: `app-${i}` },
        spec: { selector: { matchLabels: { app: `app-${i}` } }, template: tmpl },
      });
      const rs = await post(env, `/apis/apps/v1/namespaces/${ns}/replicasets`, {
        metadata: {
          name: `app-${i}-abc`,
          ownerReferences: [
            { apiVersion: "apps/v1", kind: "Deployment", name: dep.metadata.name, uid: dep.metadata.uid, controller: true },
          ],
        },
        spec: { selector: { matchLabels: { app: `app-${i}` } }, template: tmpl },
      });
      owners[i] = { ns, rs: { name: rs.metadata.name, uid: rs.metadata.uid } };
    },
  );
  await pool(
    Array.from({ length: PODS }, (_, i) => i),
    16,
    async (i) => {
      const o = owners[Math.floor(i / PER_RS)]!;
      await post(env, `/api/v1/namespaces/${o.ns}/pods`, {
        metadata: {
          name: `pod-${i}`,
          labels: { app: o.rs.name, "pod-template-hash": "abc", seq: "0" },
          annotations: { "example.com/note": "x".repeat(64) },
          ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: o.rs.name, uid: o.rs.uid, controller: true }],
        },
        spec: {
          nodeName: `node-${i % NODES}`,
          containers: [
            {
              name: "app",
              image: "registry.k8s.io/pause:3.10",
              env: [{ name: "A", value: "1" }],
              resources: { requests: { cpu: "10m", memory: "16Mi" } },
              ports: [{ containerPort: 8080 }],
            },
          ],
        },
      });
    },
  );
  await pool(
    Array.from({ length: rsCount }, (_, i) => i),
    8,
    async (i) => {
      await post(env, `/api/v1/namespaces/${owners[i]!.ns}/services`, {
        metadata: { name: `app-${i}` },
        spec: { selector: { app: `app-${i}-abc` }, ports: [{ port: 80, targetPort: 8080 }] },
      });
    },
  );
  const createMs = performance.now() - tc0;
  const objects = PODS + NODES + NAMESPACES + 3 * rsCount;
  const podRef = (i: number) => ({ ns: owners[Math.floor(i / PER_RS)]!.ns, name: `pod-${i}` });
  const newPod = (_ns: string, name: string) => ({
    metadata: { name, labels: { app: "churn" } },
    spec: { nodeName: `node-${name.length % NODES}`, containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
  });

  // anchor: the apiserver serving every pod as paginated protobuf to a bare fetch loop
  const ca = fs.readFileSync(env.caFile, "utf8");
  const listOnce = async (): Promise<number> => {
    const t = performance.now();
    let cont = "";
    do {
      const res = await fetch(`${env.url}/api/v1/pods?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`, {
        headers: { authorization: `Bearer ${env.adminToken}`, accept: "application/vnd.kubernetes.protobuf" },
        tls: { ca },
      });
      const body = new Uint8Array(await res.arrayBuffer());
      const list = decodeEnvelope(body).raw;
      cont = getString(list, findLen(list, 0, list.length, 1), 3);
    } while (cont);
    return performance.now() - t;
  };
  await listOnce();
  const rawListMs = Math.min(await listOnce(), await listOnce());

  // the agent
  const a = spawnAgent(dataDir);
  agent = a.proc;
  const { lines, waitFor } = a;
  const idle = await waitFor("idle", 30_000);
  const synced = await waitFor("synced", 300_000);
  const settled = await waitFor("settled", 30_000);
  await waitFor("subscribed", 30_000);

  // churn for SECONDS: PATCH label seq=k on a rotating pod at RATE/s, pods created and deleted at CREATE_RATE/s
  const controllerRss = sampleRss(agent.pid, 5000);
  const c1 = await churn({
    env,
    patchRate: RATE,
    createRate: CREATE_RATE,
    seconds: CONTROLLER_SECONDS,
    pods: PODS,
    podRef,
    newPod,
    tag: "a",
  });
  const controllerSamples = controllerRss.stop();
  const { sent, achievedPatchRate: achievedRate } = c1;
  const total = Math.round(RATE * CONTROLLER_SECONDS);
  await Bun.sleep(3000);
  agent.kill("SIGTERM");
  await agent.exited;
  const final = lines.find((x) => x.type === "final");
  // --trace FILE: the controller's JSON lines (commit, arrive, stall, txn) plus the PATCH times, for a timeline
  if (TRACE) {
    const patches = [...sent].map(([k, v]) => ({ type: "patch", key: k, ...v }));
    fs.writeFileSync(TRACE, [...lines, ...patches].map((l) => JSON.stringify(l)).join("\n") + "\n");
  }
  const lagFromResponse: number[] = [];
  const lagFromRequest: number[] = [];
  for (const c of lines.filter((x) => x.type === "commit")) {
    const s = sent.get(`${c.name}:${c.seq}`);
    if (!s) continue;
    lagFromResponse.push(c.t - s.done);
    lagFromRequest.push(c.t - s.start);
  }
  lagFromResponse.sort((a, b) => a - b);
  lagFromRequest.sort((a, b) => a - b);
  // the split: PATCH response -> the update read from the agent's WATCH stream -> committed
  const arrived = new Map<string, number>();
  for (const x of lines) if (x.type === "arrive") arrived.set(`${x.name}:${x.seq}`, x.t);
  const toArrive: number[] = [];
  const arriveToCommit: number[] = [];
  for (const c of lines.filter((x) => x.type === "commit")) {
    const s = sent.get(`${c.name}:${c.seq}`);
    const a = arrived.get(`${c.name}:${c.seq}`);
    if (!s || a === undefined) continue;
    toArrive.push(a - s.done);
    arriveToCommit.push(c.t - a);
  }
  toArrive.sort((a, b) => a - b);
  arriveToCommit.sort((a, b) => a - b);
  const stallLines = lines.filter((x) => x.type === "stall");
  const stalls = stallLines.map((x) => x.gapMs as number);
  // main-thread CPU inside the stalls over 20 ms: near the gap = the agent's own work, near 0 = not scheduled
  const longStalls = stallLines.filter((x) => x.gapMs > 20);
  const longStallMs = Math.max(
    1,
    longStalls.reduce((a, x) => a + x.gapMs + 5, 0),
  );
  const stallCpuShare = longStalls.reduce((a, x) => a + x.cpuMs, 0) / longStallMs;
  const stallWaitShare = longStalls.reduce((a, x) => a + x.waitMs, 0) / longStallMs;
  const txns = lines.filter((x) => x.type === "txn").map((x) => x.ms as number);
  const top = (xs: number[]) =>
    [...xs]
      .sort((a, b) => b - a)
      .slice(0, 10)
      .map((v) => round(v));
  const rssAboveIdle = synced.rssBytes - idle.rssBytes;
  if (HOST_POD && WITH_BINARY) {
    const { ns, name } = podRef(0);
    const res = await env.request("GET", `/api/v1/namespaces/${ns}/pods/${name}`);
    hostPod = startHostPod(((await res.json()) as { metadata: { uid: string } }).metadata.uid);
  }
  // the whole agent (compiled binary): initial sync, settle, the same churn
  let whole: Record<string, unknown> | undefined;
  if (WITH_BINARY) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-kube-bin-"));
    try {
      const w = await startWholeAgent(BINARY, env.kubeconfigPath, dir, 600_000);
      const atReady = procStatus(w.proc.pid);
      await Bun.sleep(10_000);
      const settledRss = procStatus(w.proc.pid).rss;
      const rssSampler = sampleRss(w.proc.pid, 5000);
      const c2 = await churn({ env, patchRate: RATE, createRate: CREATE_RATE, seconds: SECONDS, pods: PODS, podRef, newPod, tag: "b" });
      const samples = rssSampler.stop();
      const end = procStatus(w.proc.pid);
      await w.stop();
      whole = {
        binary: BINARY,
        readyMs: round(w.readyMs),
        objectsPerSecondToReady: Math.round(objects / (w.readyMs / 1000)),
        cpuSecondsToReady: round(w.cpuMsAtReady / 1000, 2),
        peakRssDuringSyncMiB: round(atReady.hwm / MiB),
        settledRssMiB: round(settledRss / MiB),
        churn: {
          seconds: SECONDS,
          achievedPatchPerSecond: round(c2.achievedPatchRate),
          podsCreated: c2.created,
          podsDeleted: c2.deleted,
          apiErrors: c2.errors,
          rssStartMiB: round(samples[0]?.[1] ?? NaN),
          rssEndMiB: round(samples.at(-1)?.[1] ?? NaN),
          rssMaxMiB: round(Math.max(...samples.map((x) => x[1]))),
          rssGrowthMiBPerHour: round(growthMiBPerHour(samples)),
          peakRssMiB: round(end.hwm / MiB),
        },
      };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  // A/B of the initial sync: the two binaries alternate on the same cluster, medians per binary
  let compare: Record<string, unknown> | undefined;
  if (WITH_BINARY && COMPARE) {
    type Run = { readyMs: number; cpuS: number; syncPeakMiB: number; peakMiB: number; settledMiB: number; settled60MiB: number };
    const runsOf: Record<"a" | "b", Run[]> = {
      a: [],
      b: [],
    };
    for (let r = 0; r < COMPARE_RUNS; r++) {
      for (const which of ["a", "b"] as const) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-kube-ab-"));
        try {
          const w = await startWholeAgent(which === "a" ? BINARY : COMPARE, env.kubeconfigPath, dir, 600_000);
          const atReady = procStatus(w.proc.pid);
          await Bun.sleep(10_000);
          const settled = procStatus(w.proc.pid);
          await Bun.sleep(50_000);
          const late = procStatus(w.proc.pid);
          await w.stop();
          runsOf[which].push({
            readyMs: round(w.readyMs),
            cpuS: round(w.cpuMsAtReady / 1000, 2),
            // VmHWM at /readyz (the initial sync's peak) and 10 s later (with what starts after readiness)
            syncPeakMiB: round(atReady.hwm / MiB),
            peakMiB: round(Math.max(atReady.hwm, settled.hwm) / MiB),
            settledMiB: round(settled.rss / MiB),
            // a minute after ready, no churn: what came back of the pages released after startup
            settled60MiB: round(late.rss / MiB),
          });
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }
    }
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const summary = (rs: (typeof runsOf)["a"]) => ({
      readyMsMedian: med(rs.map((x) => x.readyMs)),
      cpuSecondsToReadyMedian: med(rs.map((x) => x.cpuS)),
      syncPeakRssMiBMedian: med(rs.map((x) => x.syncPeakMiB)),
      peakRssMiBMedian: med(rs.map((x) => x.peakMiB)),
      settledRssMiBMedian: med(rs.map((x) => x.settledMiB)),
      settled60RssMiBMedian: med(rs.map((x) => x.settled60MiB)),
      runs: rs,
    });
    compare = { a: { binary: BINARY, ...summary(runsOf.a) }, b: { binary: COMPARE, ...summary(runsOf.b) } };
  }
  const result = {
    bench: "kube",
    controllerJit: { tiers: DEFAULT_JIT_TIERS, note: "bench/kube/agent.ts runs under the binary's default run --jit" },
    ...(AGENT_NICE === undefined ? {} : { controllerNice: AGENT_NICE }),
    ...(hostPod ? { hostPod: { pod: podRef(0), uid: hostPod.uid, cgroupPath: hostPod.cgroupPath } } : {}),
    loadAverage: fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number),
    machine: { cpus: os.cpus().length, kernel: os.release() },
    setup: {
      pods: PODS,
      nodes: NODES,
      replicaSets: rsCount,
      deployments: rsCount,
      services: rsCount,
      namespaces: NAMESPACES,
      objects,
      createSeconds: round(createMs / 1000),
    },
    initialSync: {
      seconds: round(synced.ms / 1000, 2),
      objectsPerSecond: Math.round(objects / (synced.ms / 1000)),
      cpuSeconds: round(synced.cpuUs / 1e6, 2),
      storedPods: synced.pods,
      storeMiB: round(synced.storeBytes / MiB),
      rssMiB: round(synced.rssBytes / MiB),
      rssAboveIdleMiB: round(rssAboveIdle / MiB),
      rssAboveIdleMiBPer10kPods: round((rssAboveIdle / MiB) * (10_000 / PODS)),
      heapMiB: round(synced.heapBytes / MiB),
      settledRssMiB: round(settled.rssBytes / MiB),
      settledRssAboveIdleMiBPer10kPods: round(((settled.rssBytes - idle.rssBytes) / MiB) * (10_000 / PODS)),
      settledHeapMiB: round(settled.heapBytes / MiB),
      settledJscHeapCapacityMiB: round(settled.jscHeapCapacity / MiB),
      settledJscExtraMemoryMiB: round(settled.jscExtraMemory / MiB),
      settledRssAboveEmptyClusterMiB: round((settled.rssBytes - emptySettled.rssBytes) / MiB),
      settledRssAboveEmptyClusterMiBPer10kPods: round(((settled.rssBytes - emptySettled.rssBytes) / MiB) * (10_000 / PODS)),
      objectsPerCpuSecond: Math.round(objects / (synced.cpuUs / 1e6)),
      eventLoopMaxBlockMs: round(synced.maxBlockMs),
      eventLoopBlockP99Ms: round(synced.blockP99Ms),
      eventLoopTopBlocksMs: synced.topBlocksMs,
      eventLoopBlocksOver50Ms: synced.bigBlocks,
    },
    anchors: {
      idleRssMiB: round(idle.rssBytes / MiB),
      emptyClusterSyncedRssMiB: round(emptySettled.rssBytes / MiB),
      rawProtobufListAllPodsMs: round(rawListMs),
      syncOverRawList: round(synced.ms / rawListMs, 2),
    },
    updates: {
      seconds: CONTROLLER_SECONDS,
      targetPerSecond: RATE,
      achievedPerSecond: round(achievedRate),
      sent: total,
      committed: lagFromResponse.length,
      lagMsFromWriteResponse: {
        p50: round(pct(lagFromResponse, 50)),
        p99: round(pct(lagFromResponse, 99)),
        max: round(lagFromResponse.at(-1) ?? NaN),
      },
      lagMsFromWriteRequest: { p50: round(pct(lagFromRequest, 50)), p99: round(pct(lagFromRequest, 99)) },
      lagSplit: {
        samples: toArrive.length,
        responseToWatchArrivalMs: { p50: round(pct(toArrive, 50)), p99: round(pct(toArrive, 99)), max: round(toArrive.at(-1) ?? NaN) },
        watchArrivalToCommitMs: {
          p50: round(pct(arriveToCommit, 50)),
          p99: round(pct(arriveToCommit, 99)),
          max: round(arriveToCommit.at(-1) ?? NaN),
        },
      },
      eventLoopStallsOver10Ms: {
        count: stalls.length,
        over50: stalls.filter((x) => x > 50).length,
        topMs: top(stalls),
        over20MsMainThreadCpuShare: round(stallCpuShare, 2),
        over20MsRunnableWaitingShare: round(stallWaitShare, 2),
      },
      storeTransactionsOver10Ms: { count: txns.length, topMs: top(txns) },
      podsCreated: c1.created,
      podsDeleted: c1.deleted,
      apiErrors: c1.errors,
      finalRssMiB: final ? round(final.rssBytes / MiB) : null,
      controllerRssGrowthMiBPerHour: round(growthMiBPerHour(controllerSamples)),
    },
    wholeAgent: whole,
    wholeAgentAnchors: binaryEmpty
      ? { emptyClusterReadyMs: binaryEmpty.readyMs, emptyClusterSettledRssMiB: binaryEmpty.rssMiB }
      : undefined,
    ...(compare ? { wholeAgentCompare: compare } : {}),
    targets: {
      syncObjectsPerSecondAtLeast2000: objects / (synced.ms / 1000) >= 2000,
      wholeAgentPeakRssUnder100MiB: whole ? (whole.peakRssDuringSyncMiB as number) < 100 : null,
      wholeAgentSettledRssUnder80MiB: whole ? (whole.settledRssMiB as number) < 80 : null,
      lagP99Under20Ms: pct(lagFromResponse, 99) < 20,
      rssUnder40MiBPer10kPodsAboveEmptyCluster: ((settled.rssBytes - emptySettled.rssBytes) / MiB) * (10_000 / PODS) < 40,
    },
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  agent?.kill("SIGKILL");
  await hostPod?.remove();
  await env.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
