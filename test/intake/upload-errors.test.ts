// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Upload failures are visible at the default log level and in /metrics: connection refused, a
// peer speaking garbage, an untrusted certificate, then recovery, against real TLS peers.

import { afterAll, beforeAll, expect, test } from "bun:test";
import net from "node:net";
import { registry } from "../../src/metrics/registry.ts";
import { capturedLogger, depth, intake, memoryStore } from "./common.ts";
import { resource } from "./fixtures.ts";
import { IntakeServer, makePki, type Pki, waitFor } from "./harness.ts";

let pki: Pki;
let otherCa: Pki;
beforeAll(() => {
  pki = makePki();
  otherCa = makePki();
}, 30_000);
afterAll(() => {
  pki.cleanup();
  otherCa.cleanup();
});

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

interface LogLine {
  level: string;
  msg: string;
  address?: string;
  reason?: string;
  cause?: string;
}

async function metric(name: string): Promise<string[]> {
  return (await registry.metrics()).split("\n").filter((l) => l.startsWith(name));
}

test("each upload failure state is warned once (address and cause), exposed in /metrics, and recovery is logged once", async () => {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const { logger, text } = capturedLogger("info");
  const lines = (): LogLine[] =>
    text()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogLine);
  const failingWarns = (reason: string) =>
    lines().filter((l) => l.level === "warn" && l.msg.startsWith("intake upload failing") && l.reason === reason);
  const store = memoryStore(logger);
  for (let i = 0; i < 20; i++) store.updateResource(resource(`e-${i}`, 1));
  // both channels share the connection: one state, one warning
  const c = intake({
    address,
    caFile: pki.ca,
    store,
    logger,
    tuning: { channelOptions: { "grpc.initial_reconnect_backoff_ms": 100, "grpc.max_reconnect_backoff_ms": 300 } },
  });
  const failures = () => c.stats().reduce((n, s) => n + s.streamsFailed, 0);
  let srv: IntakeServer | undefined;
  try {
    await c.start();
    // 1. nothing listens: connection refused
    await waitFor("refused several times", () => failures() >= 6, 20_000);
    const refused = failingWarns("connection_refused");
    expect(refused).toHaveLength(1);
    expect(refused[0]!.address).toBe(address);
    expect(refused[0]!.msg).toContain(address);
    expect(refused[0]!.cause).toContain("ECONNREFUSED");
    expect(await metric("antimetal_intake_last_error_info")).toEqual(['antimetal_intake_last_error_info{reason="connection_refused"} 1']);
    expect(await metric("antimetal_intake_upload_failing")).toEqual(["antimetal_intake_upload_failing 1"]);
    const [stampLine] = await metric("antimetal_intake_last_error_timestamp_seconds");
    expect(Math.abs(Number(stampLine!.split(" ")[1]) - Date.now() / 1000)).toBeLessThan(30);
    expect(c.health()).toMatchObject({ failing: true, lastError: { reason: "connection_refused" } });
    // nothing at info claims a resync went out while every stream fails
    expect(lines().filter((l) => l.level === "info" && l.msg.includes("resync"))).toHaveLength(0);

    // 2. a peer that completes TLS and then speaks garbage
    srv = await IntakeServer.start({ pki, port, rawGarbage: true, quiet: true });
    await waitFor("garbage peer warned", () => failingWarns("protocol").length === 1, 20_000);
    const before = failures();
    await waitFor("garbage peer retried", () => failures() >= before + 4, 20_000);
    expect(failingWarns("protocol")).toHaveLength(1);
    expect(failingWarns("protocol")[0]!.address).toBe(address);
    expect(await metric("antimetal_intake_last_error_info")).toEqual(['antimetal_intake_last_error_info{reason="protocol"} 1']);
    await srv.kill();

    // 3. a server whose certificate the agent does not trust
    srv = await IntakeServer.start({ pki: otherCa, port, quiet: true });
    await waitFor("untrusted certificate warned", () => failingWarns("tls").length === 1, 20_000);
    const beforeTls = failures();
    await waitFor("untrusted certificate retried", () => failures() >= beforeTls + 4, 20_000);
    expect(failingWarns("tls")).toHaveLength(1);
    expect(failingWarns("tls")[0]!.cause).toMatch(/certificate/);
    expect(await metric("antimetal_intake_last_error_info")).toEqual(['antimetal_intake_last_error_info{reason="tls"} 1']);
    await srv.kill();

    // 4. the real intake: delivered, recovery logged once, the gauge clears, the last error stays
    srv = await IntakeServer.start({ pki, port, quiet: true });
    await waitFor("delivered", () => depth(store) === 0, 20_000);
    await waitFor("recovery logged", () => lines().some((l) => l.level === "info" && l.msg.includes("works again")), 5_000);
    expect(lines().filter((l) => l.msg.includes("works again"))).toHaveLength(1);
    await waitFor("both channels resynced", () => c.stats().every((st) => st.resyncs === 1), 5_000);
    expect(lines().filter((l) => l.level === "info" && l.msg.includes("resync"))).toHaveLength(2);
    expect(await metric("antimetal_intake_upload_failing")).toEqual(["antimetal_intake_upload_failing 0"]);
    // the last error stays after recovery (tls, or connection_refused if a retry fell between the restarts)
    expect(await metric("antimetal_intake_last_error_info")).toHaveLength(1);
    // one warning per change of state, none per retry (a restart gap may add a connection_refused state)
    const warns = lines().filter((l) => l.level === "warn" && l.msg.startsWith("intake upload failing"));
    for (let i = 1; i < warns.length; i++) expect(warns[i]!.reason).not.toBe(warns[i - 1]!.reason);
    expect(warns.map((w) => w.reason).filter((r) => r !== "connection_refused")).toEqual(["protocol", "tls"]);
    expect(failures()).toBeGreaterThan(3 * warns.length);
    await c.stop(AbortSignal.timeout(3_000));
  } finally {
    store.close();
    await srv?.kill();
  }
}, 120_000);
