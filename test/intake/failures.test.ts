// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Failure tests: server killed mid-stream, agent SIGKILLed mid-stream, and a contract test in the
// style of OpenTelemetry's (uniquely numbered objects, random retryable and permanent failures,
// every object accounted for as delivered or deliberately dropped, none invented).

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import type { SentRef } from "../../src/intake/index.ts";
import { encodeResourceKey, openStore } from "../../src/store/index.ts";
import { capturedLogger, depth, intake, memoryStore, nonDecreasing, versionsByName } from "./common.ts";
import { refOf, resource } from "./fixtures.ts";
import { IntakeServer, makePki, type Pki, ROOT, readRecordFile, waitFor } from "./harness.ts";

let pki: Pki;
let tmp: string;
beforeAll(() => {
  pki = makePki();
  tmp = mkdtempSync(path.join(tmpdir(), "intake-failures-"));
});
afterAll(() => {
  pki.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

test("server killed mid-stream and restarted: nothing lost, duplicates only from unacknowledged streams", async () => {
  const recordFile = path.join(tmp, "kill-server.jsonl");
  let srv = await IntakeServer.start({ pki, recordFile, quiet: true });
  const port = srv.port;
  const { logger } = capturedLogger("info");
  const store = memoryStore(logger);
  const N = 12_000;
  try {
    // The server kills itself (SIGKILL) inside a stream that carries records, once 2000 have come: the
    // kill lands mid-stream whatever the load (a kill from here after polling the count can land
    // between two streams, and then no stream is left unanswered).
    await srv.cmd({ dieAfter: 2_000 });
    const c = intake({ address: `localhost:${port}`, caFile: pki.ca, store, logger, ackInterval: 500, tuning: { channels: ["cluster"] } });
    await c.start();
    await waitFor("startup resync acknowledged", () => c.stats()[0]!.resyncs === 1);
    const writer = (async () => {
      for (let i = 0; i < N; i += 200) {
        store.batch(() => {
          for (let j = i; j < i + 200; j++) store.updateResource(resource(`k-${j}`, 1));
        });
        await Bun.sleep(10);
      }
    })();
    await waitFor("server killed mid-stream", () => srv.proc.signalCode !== null, 20_000, 5);
    expect(srv.proc.signalCode).toBe("SIGKILL");
    await Bun.sleep(800);
    srv = await IntakeServer.start({ pki, recordFile, port, quiet: true });
    await writer;
    await waitFor("outbox drained", () => depth(store) === 0, 40_000);
    await c.stop(AbortSignal.timeout(5_000));
    expect(c.stats()[0]!.streamsFailed).toBeGreaterThanOrEqual(1);

    const { records, status } = readRecordFile(recordFile);
    // A stream the server answered OK just before it was killed may never have been acknowledged
    // to the agent (the response died with the process): the agent rightly resends it. Only the
    // killed incarnation's last answered stream can be in that state.
    const firstInc = records[0]!.sid.split("/")[0];
    const answered = [...status.entries()].filter(([sid, st]) => st === "acked" && sid.startsWith(`${firstInc}/`));
    const suspect = answered.length ? answered.reduce((a, b) => (Number(a[0].split("/")[1]) > Number(b[0].split("/")[1]) ? a : b))[0] : "";
    const confirmedSid = (sid: string) => status.get(sid) === "acked" && sid !== suspect;
    const confirmed = new Map<string, number>();
    const any = new Map<string, number>();
    for (const r of records) {
      any.set(r.name, (any.get(r.name) ?? 0) + 1);
      if (confirmedSid(r.sid)) confirmed.set(r.name, (confirmed.get(r.name) ?? 0) + 1);
    }
    let dupes = 0;
    for (let i = 0; i < N; i++) {
      const name = `k-${i}`;
      const n = any.get(name) ?? 0;
      expect({ name, delivered: n >= 1 }).toEqual({ name, delivered: true });
      // never acknowledged to the agent twice: at most one copy in a stream the agent saw acknowledged
      expect({ name, ok: (confirmed.get(name) ?? 0) <= 1 }).toEqual({ name, ok: true });
      dupes += n - 1;
    }
    expect(any.size).toBe(N); // nothing invented
    // the duplicates are copies carried by streams that were not acknowledged to the agent
    const unacked = records.filter((r) => !confirmedSid(r.sid)).length;
    expect(dupes).toBeLessThanOrEqual(unacked);
    expect(records.filter((r) => status.get(r.sid) !== "acked").length).toBeGreaterThan(0);
  } finally {
    store.close();
    await srv.kill();
  }
}, 90_000);

const spawned: Array<ReturnType<typeof spawn>> = [];
afterAll(() => {
  for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

function runAgent(args: string[]): {
  proc: ReturnType<typeof spawn>;
  lines: AsyncIterableIterator<string>;
  exited: Promise<number | null>;
} {
  const proc = spawn(path.join(ROOT, "node_modules/.bin/bun"), [path.join(ROOT, "test/intake/agent-runner.ts"), ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", process.env.INTAKE_TEST_DEBUG ? "inherit" : "ignore"],
  });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  spawned.push(proc);
  return { proc, lines, exited };
}

test("agent killed with SIGKILL mid-stream (three times, at random moments) and restarted: nothing lost, the outbox ends empty", async () => {
  const srv = await IntakeServer.start({ pki, quiet: true });
  const data = path.join(tmp, "agent-data");
  const N = 15_000;
  try {
    const { logger } = capturedLogger("info");
    const store = openStore({ dataDirectory: data, logger });
    for (let i = 0; i < N; i += 500)
      store.batch(() => {
        for (let j = i; j < i + 500; j++) store.updateResource(resource(`s-${j}`, 1));
      });
    store.close();

    const args = ["--data", data, "--address", `localhost:${srv.port}`, "--ca", pki.ca, "--ack-interval", "300"];
    // first kill while the startup resync streams; then two more at random moments of later runs
    const first = runAgent(args);
    await waitFor("first agent streaming", async () => (await srv.state()).records >= 1_000, 30_000, 5);
    first.proc.kill("SIGKILL");
    await first.exited;
    const mid = await srv.state();
    expect(mid.records).toBeLessThan(2 * N);
    for (let k = 0; k < 2; k++) {
      const again = runAgent(args);
      await Bun.sleep(300 + Math.floor(Math.random() * 900));
      again.proc.kill("SIGKILL");
      await again.exited;
    }

    const second = runAgent([...args, "--exit-when-drained"]);
    expect(await second.exited).toBe(0);
    let drained: { stats: Array<{ deltasAcked: number }> } | undefined;
    for await (const line of second.lines) {
      const ev = JSON.parse(line);
      if (ev.event === "drained") drained = ev;
    }
    expect(drained).toBeDefined();

    const st = await srv.state();
    const names = new Set(st.live.map((l) => l.name));
    for (let i = 0; i < N; i++) if (!names.has(`s-${i}`)) throw new Error(`lost s-${i}`);
    expect(names.size).toBe(N);
    const check = openStore({ dataDirectory: data, logger });
    expect(depth(check)).toBe(0);
    check.close();
  } finally {
    await srv.kill();
  }
}, 90_000);

test("contract: uniquely numbered objects under random retryable and permanent failures are all delivered or deliberately dropped, none invented", async () => {
  const srv = await IntakeServer.start({ pki, apiKey: "contract-key", quiet: true });
  const { logger } = capturedLogger("info");
  const store = memoryStore(logger);
  const dropped: SentRef[] = [];
  const N = 3_000;
  const poison = new Set<number>();
  while (poison.size < 6) poison.add(Math.floor(Math.random() * N));
  const final = new Map<string, number>();
  try {
    await srv.cmd({
      poison: "^poison-",
      random: { p: 0.25, codes: ["UNAVAILABLE", "INTERNAL", "RESOURCE_EXHAUSTED", "UNAUTHENTICATED", "PERMISSION_DENIED", "DROP"] },
    });
    const c = intake({
      address: `localhost:${srv.port}`,
      apiKey: "contract-key",
      caFile: pki.ca,
      store,
      logger,
      ackInterval: 200,
      tuning: { channels: ["cluster"], onDropped: (es) => dropped.push(...es) },
    });
    await c.start();
    const name = (i: number) => (poison.has(i) ? `poison-${i}` : `c-${i}`);
    for (let i = 0; i < N; i += 100) {
      store.batch(() => {
        for (let j = i; j < i + 100; j++) {
          store.updateResource(resource(name(j), 1));
          final.set(name(j), 1);
        }
      });
      if (i % 500 === 0) {
        // updates of earlier objects interleave with new ones
        for (let j = 0; j < i; j += 7) {
          const v = (final.get(name(j)) ?? 1) + 1;
          store.updateResource(resource(name(j), v));
          final.set(name(j), v);
        }
      }
      await Bun.sleep(20);
    }
    await waitFor("outbox drained", () => depth(store) === 0, 60_000);
    await srv.cmd({ random: null });
    await c.stop(AbortSignal.timeout(5_000));

    const { records, streams } = await srv.records();
    const acked = records.filter((r) => streams[String(r.stream)] === "acked");
    const lastAcked = new Map<string, number>();
    for (const r of acked) lastAcked.set(r.name, Number(r.tags.v));
    // delivered: every non-poison object, at its final version, in an acknowledged stream
    for (const [n, v] of final) {
      if (n.startsWith("poison-")) continue;
      expect({ n, v: lastAcked.get(n) }).toEqual({ n, v });
    }
    // deliberately dropped: exactly the poison objects, each reported
    const nameByKey = new Map([...final.keys()].map((n) => [encodeResourceKey(refOf(n)), n]));
    const droppedNames = new Set(dropped.map((e) => nameByKey.get(e.key)));
    expect(dropped.length).toBe(poison.size);
    expect(droppedNames.size).toBe(poison.size);
    for (const n of droppedNames) expect(n?.startsWith("poison-")).toBe(true);
    expect(acked.some((r) => r.name.startsWith("poison-"))).toBe(false);
    // none invented, order per object kept (even across failed streams)
    for (const r of records) expect(final.has(r.name)).toBe(true);
    for (const [n, vs] of versionsByName(records)) expect({ n, ok: nonDecreasing(vs) }).toEqual({ n, ok: true });
    const s = c.stats()[0]!;
    expect(s.dropped).toBe(poison.size);
    expect(s.streamsFailed).toBeGreaterThan(5);
    expect(Object.keys(s.resetsByCode)).toContain("INVALID_ARGUMENT");
  } finally {
    store.close();
    await srv.kill();
  }
}, 120_000);

test("HTTPS_PROXY is honoured (HTTP CONNECT, TLS end to end through it) and NO_PROXY bypasses it", async () => {
  const net = await import("node:net");
  const http = await import("node:http");
  const connects: string[] = [];
  const proxy = http.createServer((_req, res) => res.writeHead(405).end());
  proxy.on("connect", (req, client: import("node:net").Socket, head: Buffer) => {
    connects.push(String(req.url));
    const [host, port] = String(req.url).split(":");
    const upstream = net.connect(Number(port), host === "localhost" ? "127.0.0.1" : host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", () => r()));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as import("node:net").AddressInfo).port}`;
  const srv = await IntakeServer.start({ pki, quiet: true });
  try {
    const run = async (env: Record<string, string>, data: string) => {
      const { logger } = capturedLogger("info");
      const store = openStore({ dataDirectory: data, logger });
      for (let i = 0; i < 20; i++) store.updateResource(resource(`p-${i}`, 1));
      store.close();
      const proc = spawn(
        path.join(ROOT, "node_modules/.bin/bun"),
        [
          path.join(ROOT, "test/intake/agent-runner.ts"),
          "--data",
          data,
          "--address",
          `localhost:${srv.port}`,
          "--ca",
          pki.ca,
          "--exit-when-drained",
        ],
        {
          cwd: ROOT,
          stdio: ["ignore", "ignore", "ignore"],
          env: { ...process.env, https_proxy: "", no_proxy: "", grpc_proxy: "", http_proxy: "", ...env },
        },
      );
      spawned.push(proc);
      return new Promise<number | null>((r) => proc.once("exit", r));
    };
    expect(await run({ HTTPS_PROXY: proxyUrl }, path.join(tmp, "proxy-1"))).toBe(0);
    expect(connects).toEqual([`localhost:${srv.port}`]);
    expect(await run({ HTTPS_PROXY: proxyUrl, NO_PROXY: "localhost" }, path.join(tmp, "proxy-2"))).toBe(0);
    expect(connects).toHaveLength(1);
    expect((await srv.state()).live.length).toBe(20);
  } finally {
    proxy.close();
    await srv.kill();
  }
}, 60_000);

test("connections recycled by the server (max connection age + grace, as load balancers do): nothing lost, nothing invented", async () => {
  const srv = await IntakeServer.start({ pki, quiet: true, maxConnectionAgeMs: 400, maxConnectionAgeGraceMs: 150 });
  const { logger } = capturedLogger("info");
  const store = memoryStore(logger);
  const N = 6_000;
  try {
    const c = intake({
      address: `localhost:${srv.port}`,
      caFile: pki.ca,
      store,
      logger,
      ackInterval: 300,
      tuning: { channels: ["cluster"] },
    });
    await c.start();
    for (let i = 0; i < N; i += 100) {
      store.batch(() => {
        for (let j = i; j < i + 100; j++) store.updateResource(resource(`lb-${j}`, 1));
      });
      await Bun.sleep(30); // ~2 s of writes: several connection lifetimes
    }
    await waitFor("outbox drained", () => depth(store) === 0, 30_000);
    const { records, streams } = await srv.records();
    if (process.env.INTAKE_TEST_DEBUG) console.error(c.stats(), Object.values(streams));
    const acked = new Set(records.filter((r) => streams[String(r.stream)] === "acked").map((r) => r.name));
    for (let i = 0; i < N; i++) if (!acked.has(`lb-${i}`)) throw new Error(`lb-${i} not delivered in an acknowledged stream`);
    expect(new Set(records.map((r) => r.name)).size).toBe(N);
    await c.stop(AbortSignal.timeout(5_000));
  } finally {
    store.close();
    await srv.kill();
  }
}, 60_000);
