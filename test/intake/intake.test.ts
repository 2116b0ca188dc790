// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Intake over real gRPC + TLS on loopback, against the Node test intake server, with the real store.
// Over 400 lines: one file for the intake's delivery guarantees, sharing one server and harness.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { checkIntake } from "../../src/intake/index.ts";
import { registry } from "../../src/metrics/registry.ts";
import { openStore } from "../../src/store/index.ts";
import { capturedLogger, depth, intake, memoryStore, nonDecreasing, versionsByName } from "./common.ts";
import { contains, INSTANCE_TYPE, refOf, resource } from "./fixtures.ts";
import { IntakeServer, makePki, type Pki, waitFor } from "./harness.ts";

let pki: Pki;
beforeAll(() => {
  pki = makePki();
}, 30_000);
afterAll(() => pki.cleanup());

test("everything the store holds arrives over TLS, decoded with our protos, in order per object; the outbox empties only after acks", async () => {
  const srv = await IntakeServer.start({ pki, apiKey: "secret-key-1" });
  const { logger, text } = capturedLogger();
  const store = memoryStore(logger);
  try {
    store.batch(() => {
      for (let i = 0; i < 400; i++) store.updateResource(resource(`obj-${i}`, 1));
      for (let i = 0; i < 20; i++) store.updateResource(resource(`host-${i}`, 1, { type: INSTANCE_TYPE }));
    });
    const c = intake({ address: `localhost:${srv.port}`, apiKey: "secret-key-1", caFile: pki.ca, store, logger });
    await c.start();
    expect(c.isReady()).toBe(true);
    // live changes while streaming
    for (let round = 2; round <= 4; round++) {
      store.batch(() => {
        for (let i = 0; i < 400; i += round) store.updateResource(resource(`obj-${i}`, round));
      });
      await Bun.sleep(150);
    }
    store.addRelationships(contains("obj-1", "obj-3"), contains("obj-3", "obj-5"));
    for (let i = 390; i < 400; i++) store.deleteResource(refOf(`obj-${i}`));
    const want = new Map<string, number>();
    for (let i = 0; i < 390; i++) want.set(`obj-${i}`, i % 4 === 0 ? 4 : i % 3 === 0 ? 3 : i % 2 === 0 ? 2 : 1);

    await waitFor("outbox drained", () => depth(store) === 0, 20_000);
    const st = await srv.state();
    const live = new Map(st.live.map((l) => [l.name, l]));
    for (const [name, v] of want) expect(live.get(name)?.tags.v).toBe(String(v));
    for (let i = 390; i < 400; i++) expect(live.has(`obj-${i}`)).toBe(false);
    for (let i = 0; i < 20; i++) expect(live.has(`host-${i}`)).toBe(true);
    expect(live.has("obj-1->obj-3")).toBe(true);
    expect(live.has("obj-3->obj-5")).toBe(true);
    expect(st.invalid).toBe(0);
    expect(st.heartbeats).toBeGreaterThanOrEqual(2); // one per channel at least
    expect(st.lastHeartbeat?.deltaVersion).toBe(c.deltaVersion);

    const { records, streams } = await srv.records();
    expect(records.every((r) => r.deltaVersion === c.deltaVersion)).toBe(true);
    for (const [name, vs] of versionsByName(records)) expect({ name, ok: nonDecreasing(vs) }).toEqual({ name, ok: true });
    expect(Object.values(streams).every((s) => s === "acked")).toBe(true);

    const stats = c.stats();
    expect(stats.map((s) => s.channel).sort()).toEqual(["cluster", "instance"]);
    expect(stats.find((s) => s.channel === "cluster")!.deltasAcked).toBeGreaterThanOrEqual(400);

    const metrics = await registry.metrics();
    for (const name of [
      "antimetal_intake_outbox_depth",
      "antimetal_intake_outbox_oldest_age_seconds",
      "antimetal_intake_sent_bytes_total",
      "antimetal_intake_acked_batches_total",
      "antimetal_intake_retries_total",
      "antimetal_intake_last_ack_timestamp_seconds",
    ])
      expect(metrics).toContain(name);
    expect(metrics).toMatch(/antimetal_intake_outbox_depth\{channel="cluster"\} 0/);

    await c.stop(AbortSignal.timeout(5_000));
    expect(text()).not.toContain("secret-key-1");
  } finally {
    store.close();
    await srv.kill();
  }
}, 30_000);

test("mTLS with a client certificate and an API key file; without the certificate nothing is confirmed", async () => {
  const srv = await IntakeServer.start({ pki, apiKey: "file-key-2", mtls: true });
  const { logger } = capturedLogger();
  const keyFile = path.join(pki.dir, "api-key");
  writeFileSync(keyFile, "file-key-2\n");
  const noCertStore = memoryStore(logger);
  const store = memoryStore(logger);
  try {
    for (let i = 0; i < 50; i++) {
      store.updateResource(resource(`m-${i}`, 1));
      noCertStore.updateResource(resource(`n-${i}`, 1));
    }
    const bad = intake({ address: `localhost:${srv.port}`, apiKeyFile: keyFile, caFile: pki.ca, store: noCertStore, logger });
    await bad.start();
    const good = intake({
      address: `localhost:${srv.port}`,
      apiKeyFile: keyFile,
      caFile: pki.ca,
      certFile: pki.clientCert,
      keyFile: pki.clientKey,
      store,
      logger,
    });
    await good.start();
    await waitFor("mTLS agent drained", () => depth(store) === 0);
    await waitFor("cert-less agent failed a few times", () => bad.stats().every((s) => s.streamsFailed >= 2));
    expect(depth(noCertStore)).toBe(50);
    const names = new Set((await srv.state()).live.map((l) => l.name));
    for (let i = 0; i < 50; i++) {
      expect(names.has(`m-${i}`)).toBe(true);
      expect(names.has(`n-${i}`)).toBe(false);
    }
    expect(bad.isReady()).toBe(true); // readiness never depends on the backend
    await Promise.all([good.stop(AbortSignal.timeout(5_000)), bad.stop(AbortSignal.timeout(5_000))]);
  } finally {
    store.close();
    noCertStore.close();
    await srv.kill();
  }
}, 30_000);

test("heartbeats keep objects alive past the TTL; an outage longer than the TTL triggers a full resync from the store", async () => {
  const srv = await IntakeServer.start({ pki });
  const { logger } = capturedLogger();
  const store = memoryStore(logger);
  try {
    for (let i = 0; i < 100; i++) store.updateResource(resource(`t-${i}`, 1));
    const c = intake({
      address: `localhost:${srv.port}`,
      caFile: pki.ca,
      store,
      logger,
      ackInterval: 200,
      tuning: { ttlMs: 2_000, heartbeatIntervalMs: 300, channels: ["cluster"] },
    });
    await c.start();
    await waitFor("delivered", async () => (await srv.state()).live.length === 100);
    await Bun.sleep(2_500); // longer than the TTL: only heartbeats keep them
    let st = await srv.state();
    expect(st.live.length).toBe(100);
    expect(st.expired).toBe(0);
    const resyncsBefore = c.stats()[0]!.resyncs;
    expect(resyncsBefore).toBe(1); // startup

    // short outage (< TTL): no resync
    await srv.cmd({ random: { p: 1, codes: ["UNAVAILABLE"], when: "start" } });
    await Bun.sleep(700);
    await srv.cmd({ random: null });
    await Bun.sleep(600);
    expect(c.stats()[0]!.resyncs).toBe(resyncsBefore);
    expect((await srv.state()).live.length).toBe(100);

    // long outage: the server expires everything
    await srv.cmd({ random: { p: 1, codes: ["UNAVAILABLE"], when: "start" } });
    await waitFor("server expired the objects", async () => (await srv.state()).live.length === 0, 10_000);
    await Bun.sleep(300);
    await srv.cmd({ random: null });
    await waitFor("full resync restored them", async () => (await srv.state()).live.length === 100, 10_000);
    await waitFor("resync acknowledged", () => c.stats()[0]!.resyncs === resyncsBefore + 1);
    expect(depth(store)).toBe(0); // nothing was pending: the data came from the store's state
    st = await srv.state();
    expect(st.live.every((l) => l.deltaVersion === c.deltaVersion)).toBe(true);
    await c.stop(AbortSignal.timeout(5_000));
  } finally {
    store.close();
    await srv.kill();
  }
}, 30_000);

test("bad API key: UNAUTHENTICATED is counted and retried slowly, the key never logged; a rotated key file recovers", async () => {
  const srv = await IntakeServer.start({ pki, apiKey: "good-key-QWE" });
  const { logger, text } = capturedLogger();
  const store = memoryStore(logger);
  const keyFile = path.join(pki.dir, "rotating-key");
  writeFileSync(keyFile, "bad-key-XYZ");
  try {
    for (let i = 0; i < 10; i++) store.updateResource(resource(`a-${i}`, 1));
    const c = intake({
      address: `localhost:${srv.port}`,
      apiKeyFile: keyFile,
      caFile: pki.ca,
      store,
      logger,
      tuning: { channels: ["cluster"], permanentBackoff: { initialMs: 500, multiplier: 2, maxMs: 1_000, jitter: 0 } },
    });
    await c.start();
    await Bun.sleep(1_800);
    const s = c.stats()[0]!;
    expect(s.resetsByCode.UNAUTHENTICATED).toBeGreaterThanOrEqual(2);
    expect(s.resetsByCode.UNAUTHENTICATED).toBeLessThanOrEqual(4); // slowed down, not spun on
    expect(s.streamsAcked).toBe(0);
    expect(depth(store)).toBe(10);
    expect(await registry.metrics()).toMatch(/antimetal_intake_permanent_errors_total\{channel="cluster",code="UNAUTHENTICATED"\} [1-9]/);
    expect(text()).toContain("UNAUTHENTICATED");

    writeFileSync(keyFile, "good-key-QWE\n");
    await waitFor("delivered with the rotated key", () => depth(store) === 0, 10_000);
    expect((await srv.state()).live.length).toBe(10);
    await c.stop(AbortSignal.timeout(5_000));
    expect(text()).not.toContain("bad-key-XYZ");
    expect(text()).not.toContain("good-key-QWE");
  } finally {
    store.close();
    await srv.kill();
  }
}, 30_000);

test("hostile server: huge and garbage responses, a stalled stream and raw garbage frames do not crash the agent or confirm anything", async () => {
  const { logger } = capturedLogger();
  const garbage = await IntakeServer.start({ pki, rawGarbage: true });
  const store = memoryStore(logger);
  try {
    // enough data that a paused reader blocks the writer (HTTP/2 windows are 64 KiB+)
    for (let i = 0; i < 2_000; i++) store.updateResource(resource(`h-${i}`, 1));
    // 1. a peer that speaks TLS then sends random bytes instead of HTTP/2
    const g = intake({ address: `localhost:${garbage.port}`, caFile: pki.ca, store, logger, tuning: { channels: ["cluster"] } });
    await g.start();
    await waitFor("failures against the garbage peer", () => g.stats()[0]!.streamsFailed >= 3, 10_000);
    expect(g.stats()[0]!.streamsAcked).toBe(0);
    expect(depth(store)).toBe(2_000);
    await g.stop(AbortSignal.timeout(3_000));
  } finally {
    await garbage.kill();
  }
  const srv = await IntakeServer.start({ pki });
  try {
    // 2. huge response (16 MiB), garbage response bytes, then a stream whose response never comes
    // and one the server stops reading (HTTP/2 flow control fills, drain never fires): the watchdog
    // must break both and recreate the channel
    await srv.cmd({ huge: 1, garbage: 1, pause: 1 });
    const c = intake({
      address: `localhost:${srv.port}`,
      caFile: pki.ca,
      store,
      logger,
      tuning: { channels: ["cluster"], ackTimeoutMs: 1_000 },
    });
    await c.start();
    await waitFor("garbage response seen", () => c.stats()[0]!.resetsByCode.INTERNAL === 1, 15_000);
    await srv.cmd({ stall: 1 });
    await waitFor("delivered after the hostile responses", () => depth(store) === 0, 20_000);
    const s = c.stats()[0]!;
    expect(s.resetsByCode.RESOURCE_EXHAUSTED).toBe(1);
    expect(s.resetsByCode.INTERNAL).toBe(1);
    expect(s.watchdogResets).toBe(2);
    expect(s.resetsByCode.WATCHDOG).toBe(2);
    expect((await srv.state()).live.length).toBe(2_000);
    expect(process.memoryUsage().rss).toBeLessThan(1 << 30);
    await c.stop(AbortSignal.timeout(5_000));
  } finally {
    store.close();
    await srv.kill();
  }
}, 30_000);

test("cluster channel uploads only while leader; gaining leadership uploads the full state once, without resending covered outbox entries", async () => {
  const srv = await IntakeServer.start({ pki });
  const { logger } = capturedLogger();
  const store = memoryStore(logger);
  let leader = false;
  try {
    for (let i = 0; i < 300; i++) store.updateResource(resource(`l-${i}`, 1));
    for (let i = 0; i < 5; i++) store.updateResource(resource(`node-${i}`, 1, { type: INSTANCE_TYPE }));
    const c = intake({ address: `localhost:${srv.port}`, caFile: pki.ca, store, logger, isLeader: () => leader });
    await c.start();
    await waitFor("instance channel delivered", () => store.outbox.stats("instance").depth === 0);
    await Bun.sleep(500);
    expect(store.outbox.stats("cluster").depth).toBe(300);
    expect((await srv.state()).live.every((l) => l.name.startsWith("node-"))).toBe(true);

    leader = true;
    await waitFor("cluster channel delivered", () => store.outbox.stats("cluster").depth === 0, 10_000);
    const { records } = await srv.records();
    const cluster = records.filter((r) => r.name.startsWith("l-"));
    expect(cluster.length).toBe(300); // the snapshot carried them; the pending entries were confirmed, not resent
    expect(new Set(cluster.map((r) => r.name)).size).toBe(300);
    const cs = c.stats().find((s) => s.channel === "cluster")!;
    expect(cs.resyncs).toBe(1);
    expect(cs.deltasAcked).toBe(300);

    // leadership lost: new changes wait in the outbox
    leader = false;
    await Bun.sleep(1_200);
    store.updateResource(resource("l-0", 2));
    await Bun.sleep(800);
    expect(store.outbox.stats("cluster").depth).toBe(1);
    await c.stop(AbortSignal.timeout(5_000));
  } finally {
    store.close();
    await srv.kill();
  }
}, 30_000);

test("an outbox that dropped entries at its cap triggers a full resync, so nothing dropped is lost upstream", async () => {
  const srv = await IntakeServer.start({ pki });
  const { logger } = capturedLogger();
  const store = openStore({ dataDirectory: "", logger, outboxMaxEntries: 50 });
  try {
    for (let i = 0; i < 20; i++) store.updateResource(resource(`cap-${i}`, 1));
    const c = intake({ address: `localhost:${srv.port}`, caFile: pki.ca, store, logger, tuning: { channels: ["cluster"] } });
    await c.start();
    await waitFor("first delivery", () => depth(store) === 0 && c.stats()[0]!.resyncs === 1);
    await srv.cmd({ random: { p: 1, codes: ["UNAVAILABLE"], when: "start" } });
    store.batch(() => {
      for (let i = 20; i < 220; i++) store.updateResource(resource(`cap-${i}`, 1));
    });
    expect(store.outbox.needsResync("cluster")).toBe(true);
    expect(depth(store)).toBeLessThanOrEqual(50);
    await Bun.sleep(300);
    await srv.cmd({ random: null });
    await waitFor("all 220 live after the resync", async () => (await srv.state()).live.length === 220, 15_000);
    await waitFor("resync acknowledged", () => c.stats()[0]!.resyncs === 2 && depth(store) === 0);
    expect(store.outbox.needsResync("cluster")).toBe(false);
    await c.stop(AbortSignal.timeout(5_000));
  } finally {
    store.close();
    await srv.kill();
  }
}, 30_000);

test("a store closed under a running intake does not kill the uploader or the process; stop still finishes", async () => {
  const srv = await IntakeServer.start({ pki });
  const { logger, text } = capturedLogger();
  const store = memoryStore(logger);
  try {
    for (let i = 0; i < 10; i++) store.updateResource(resource(`z-${i}`, 1));
    const c = intake({
      address: `localhost:${srv.port}`,
      caFile: pki.ca,
      store,
      logger,
      tuning: { channels: ["cluster"], heartbeatIntervalMs: 100 },
    });
    await c.start();
    await waitFor("delivered", () => depth(store) === 0);
    store.close();
    await waitFor("the streamer saw the closed store", () => c.stats()[0]!.lastError !== undefined);
    await Bun.sleep(300);
    await registry.metrics(); // scrape with a closed store
    await c.stop(AbortSignal.timeout(5_000));
    expect(text()).not.toContain("intake streamer crashed");
  } finally {
    await srv.kill();
  }
}, 30_000);

test("TLS without --intake-ca-file trusts the system roots ($SSL_CERT_FILE here), and refuses an unknown CA", async () => {
  const srv = await IntakeServer.start({ pki });
  const { logger } = capturedLogger();
  const store = memoryStore(logger);
  const saved = process.env.SSL_CERT_FILE;
  try {
    for (let i = 0; i < 5; i++) store.updateResource(resource(`r-${i}`, 1));
    // not trusted: the bundled/system roots do not know the test CA
    process.env.SSL_CERT_FILE = "/nonexistent";
    const untrusted = intake({ address: `localhost:${srv.port}`, store, logger, tuning: { channels: ["cluster"] } });
    await untrusted.start();
    await waitFor("TLS failures", () => untrusted.stats()[0]!.streamsFailed >= 2);
    expect(depth(store)).toBe(5);
    await untrusted.stop(AbortSignal.timeout(3_000));
    // trusted through the system store
    process.env.SSL_CERT_FILE = pki.ca;
    const c = intake({ address: `localhost:${srv.port}`, store, logger, tuning: { channels: ["cluster"] } });
    await c.start();
    await waitFor("delivered", () => depth(store) === 0);
    await c.stop(AbortSignal.timeout(3_000));
  } finally {
    if (saved === undefined) delete process.env.SSL_CERT_FILE;
    else process.env.SSL_CERT_FILE = saved;
    store.close();
    await srv.kill();
  }
}, 30_000);

test("--intake-secure=false speaks plaintext gRPC (h2c) with the same protocol", async () => {
  const srv = await IntakeServer.start({ insecure: true, apiKey: "plain-key" });
  const { logger } = capturedLogger();
  const store = memoryStore(logger);
  try {
    for (let i = 0; i < 30; i++) store.updateResource(resource(`pl-${i}`, 1));
    const c = intake({
      address: `127.0.0.1:${srv.port}`,
      secure: false,
      apiKey: "plain-key",
      store,
      logger,
      tuning: { channels: ["cluster"] },
    });
    await c.start();
    await waitFor("delivered", () => depth(store) === 0);
    expect((await srv.state()).live.length).toBe(30);
    await c.stop(AbortSignal.timeout(3_000));
  } finally {
    store.close();
    await srv.kill();
  }
}, 30_000);

test("checkIntake reports OK, UNAUTHENTICATED and TLS failures without sending data", async () => {
  const srv = await IntakeServer.start({ pki, apiKey: "check-key" });
  const { logger, text } = capturedLogger();
  try {
    const base = { address: `localhost:${srv.port}`, secure: true, logger };
    const ok = await checkIntake({ ...base, caFile: pki.ca, apiKey: "check-key" });
    expect(ok).toMatchObject({ ok: true, code: "OK" });
    const bad = await checkIntake({ ...base, caFile: pki.ca, apiKey: "wrong-check-key" });
    expect(bad).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    const saved = process.env.SSL_CERT_FILE;
    process.env.SSL_CERT_FILE = "/nonexistent";
    try {
      const tlsFail = await checkIntake({ ...base, apiKey: "check-key", timeoutMs: 3_000 });
      expect(tlsFail.ok).toBe(false);
      expect(tlsFail.code).toBe("UNAVAILABLE");
    } finally {
      if (saved === undefined) delete process.env.SSL_CERT_FILE;
      else process.env.SSL_CERT_FILE = saved;
    }
    const missing = await checkIntake({ ...base, caFile: "/nonexistent/ca.pem" });
    expect(missing).toMatchObject({ ok: false, code: "CONFIG" });
    const st = await srv.state();
    expect(st.records).toBe(0);
    expect(st.heartbeats).toBe(0);
    expect(text()).not.toContain("check-key");
  } finally {
    await srv.kill();
  }
}, 30_000);
