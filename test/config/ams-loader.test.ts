// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The AMS loader against the test config service (grpc-js on Node, TLS), which checks every field
// it receives: INITIAL, updates, NACK with ConfigErrors, TTL, server restart, max stream age.

import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { buildInfo } from "../../src/build-info.ts";
import { AmsConfigLoader } from "../../src/config/objects/ams-loader.ts";
import { buildInstance, uuidv7 } from "../../src/config/objects/instance.ts";
import { makePki, type Pki } from "../intake/harness.ts";
import { ConfigServer } from "./config-server.ts";
import { capturedLogger, waitUntil } from "./helpers.ts";

const COLLECTORS = ["load", "cpu", "memory", "disk", "process", "cpu_info"];
const status = (c: string) =>
  COLLECTORS.includes(c) ? { available: true, reason: "available" } : { available: false, reason: "not found" };
const FAST = { initialMs: 50, multiplier: 1.5, maxMs: 400, jitter: 0.2 };

let pki: Pki;
let server: ConfigServer | undefined;
let loader: AmsConfigLoader | undefined;
beforeAll(() => {
  pki = makePki();
});
afterAll(() => pki.cleanup());
afterEach(async () => {
  await loader?.stop(AbortSignal.timeout(2000));
  loader = undefined;
  await server?.kill();
  server = undefined;
});

async function start(opts: { maxStreamAgeMs?: number; apiKey?: string } = {}) {
  server ??= await ConfigServer.start({ pki, apiKey: "ams-key" });
  const log = capturedLogger();
  loader = new AmsConfigLoader({
    address: server.address,
    secure: true,
    caFile: pki.ca,
    apiKey: opts.apiKey ?? "ams-key",
    maxStreamAgeMs: opts.maxStreamAgeMs ?? 600_000,
    instance: buildInstance({
      id: uuidv7(),
      build: { ...buildInfo, version: "1.4.2", revision: "abc1234def567" },
      paths: { proc: "/proc", sys: "/sys" },
      collectors: COLLECTORS,
    }),
    collectorStatus: status,
    logger: log.logger,
    backoff: FAST,
  });
  let changes = 0;
  loader.onChange(() => changes++);
  await loader.start();
  return { log, changes: () => changes };
}

const active = () =>
  Object.fromEntries(loader!.active().map((i) => [i.name, `${i.config!.collector}@${i.config!.intervalSeconds}s ${i.version}`]));

test("INITIAL carries a valid Instance; a response is applied and ACKed", async () => {
  const { changes } = await start();
  await waitUntil("INITIAL received", async () => (await server!.state()).initials.length === 1);
  await server!.push([{ name: "cpu-config", collector: "cpu", interval_seconds: 5, version: "v1" }]);
  await waitUntil("ACK", async () => (await server!.state()).answers.length === 1);
  const state = await server!.state();
  expect(state.violations).toEqual([]);
  expect(state.initials[0]!.names).toEqual([]);
  expect(state.answers[0]).toMatchObject({ seq: "1", type: "ACK", errors: [] });
  expect(active()).toEqual({ "cpu-config": "cpu@5s v1" });
  expect(changes()).toBe(1);
});

test("updates: a newer version replaces, an older one is NACKed with its ConfigError, an equal one is applied", async () => {
  await start();
  await server!.push([{ name: "a", collector: "cpu", interval_seconds: 5, version: "v2" }]);
  await server!.push([{ name: "a", collector: "cpu", interval_seconds: 9, version: "v1" }]);
  await server!.push([{ name: "a", collector: "cpu", interval_seconds: 3, version: "2" }]);
  await server!.push([{ name: "a", collector: "cpu", interval_seconds: 2, version: "v3" }]);
  await waitUntil("four answers", async () => (await server!.state()).answers.length === 4);
  const { answers, violations } = await server!.state();
  expect(violations).toEqual([]);
  expect(answers.map((a) => a.type)).toEqual(["ACK", "NACK", "ACK", "ACK"]);
  expect(answers[1]!.errors).toEqual([
    { type: "antimetal.agent.v1.HostStatsCollectionConfig", name: "a", reason: "version v1 is less than the currently stored version v2" },
  ]);
  expect(active()).toEqual({ a: "cpu@2s v3" });
});

test("NACK on an unknown collector: one ConfigError per refused object, the valid ones in the same response are taken", async () => {
  const { log } = await start();
  await server!.push([
    { name: "good", collector: "memory", interval_seconds: 10, version: "1" },
    { name: "gpu", collector: "gpu", interval_seconds: 10, version: "1" },
    { name: "unversioned", collector: "cpu", interval_seconds: 10 },
    { name: "bad-type", type: "antimetal.agent.v1.Other", data_b64: "AA==", version: "1" },
  ]);
  await waitUntil("NACK", async () => (await server!.state()).answers.length === 1);
  const { answers, violations } = await server!.state();
  expect(violations).toEqual([]);
  expect(answers[0]!.type).toBe("NACK");
  expect(answers[0]!.errors).toEqual([
    {
      type: "antimetal.agent.v1.HostStatsCollectionConfig",
      name: "gpu",
      reason: "failed to parse config: collector gpu is not available: not found",
    },
    { type: "antimetal.agent.v1.HostStatsCollectionConfig", name: "unversioned", reason: "could not parse version " },
    { type: "antimetal.agent.v1.Other", name: "bad-type", reason: "unrecognized type: antimetal.agent.v1.Other" },
  ]);
  expect(active()).toEqual({ good: "memory@10s 1" });
  expect(log.text()).toContain("config objects refused (NACK)");
  expect(
    loader!
      .view()
      .objects.filter((o) => o.status === "invalid")
      .map((o) => o.name),
  ).toEqual(["gpu", "unversioned", "bad-type"]);
});

test("TTL: an object expires unless renewed; a bare heartbeat (same version, no data) renews it", async () => {
  await start();
  await server!.push([
    { name: "short", collector: "cpu", interval_seconds: 1, version: "1", ttl_seconds: 0.3 },
    { name: "kept", collector: "load", interval_seconds: 1, version: "1", ttl_seconds: 0.6 },
  ]);
  await waitUntil("both in force", () => Object.keys(active()).length === 2);
  await Bun.sleep(300);
  await server!.push([
    { name: "kept", type: "antimetal.agent.v1.HostStatsCollectionConfig", data_b64: "", version: "1", ttl_seconds: 0.6 },
  ]);
  await waitUntil("short expired", () => active().short === undefined, 2000);
  await Bun.sleep(400); // past kept's first expiry
  expect(Object.keys(active())).toEqual(["kept"]);
  const { answers } = await server!.state();
  expect(answers.map((a) => a.type)).toEqual(["ACK", "ACK"]);
});

test("a wrong API key is refused by the server and retried with backoff, not in a busy loop", async () => {
  await start({ apiKey: "wrong" });
  await Bun.sleep(1500);
  const { streams } = await server!.state();
  expect(streams.every((s) => !s.authorized)).toBe(true);
  expect(streams.length).toBeGreaterThanOrEqual(3);
  expect(streams.length).toBeLessThan(15);
});

test("server restart: the loader reconnects and its INITIAL replays the objects it holds", async () => {
  await start();
  await server!.push([
    { name: "a", collector: "cpu", interval_seconds: 5, version: "v1" },
    { name: "b", collector: "load", interval_seconds: 2, version: "v4" },
  ]);
  await waitUntil("ACK", async () => (await server!.state()).answers.length === 1);
  const port = server!.port;
  await server!.kill();
  server = await ConfigServer.start({ pki, apiKey: "ams-key", port });
  await waitUntil("INITIAL on the new server", async () => (await server!.state()).initials.length === 1, 10_000);
  const state = await server!.state();
  expect(state.violations).toEqual([]);
  expect(state.initials[0]!.names.sort()).toEqual(["a@v1", "b@v4"]);
  expect(active()).toEqual({ a: "cpu@5s v1", b: "load@2s v4" }); // the objects stayed in force meanwhile
  await server!.push([{ name: "a", collector: "cpu", interval_seconds: 1, version: "v2" }]);
  await waitUntil("applied after restart", () => active().a === "cpu@1s v2");
});

test("max stream age: streams are renewed, each with INITIAL and the same instance id", async () => {
  await start({ maxStreamAgeMs: 400 });
  await server!.push([{ name: "a", collector: "cpu", interval_seconds: 5, version: "7" }]);
  await waitUntil("three streams", async () => (await server!.state()).initials.length >= 4, 5000);
  const state = await server!.state();
  expect(state.violations).toEqual([]);
  expect(new Set(state.instanceIds).size).toBe(1);
  expect(state.initials[0]!.names).toEqual([]);
  for (const i of state.initials.slice(2)) expect(i.names).toEqual(["a@7"]);
  expect(state.streams.filter((s) => s.status === "open").length).toBeLessThanOrEqual(1);
});

test("a server that ends the stream is reconnected to at once", async () => {
  await start();
  await waitUntil("INITIAL", async () => (await server!.state()).initials.length === 1);
  await server!.push([{ name: "a", collector: "cpu", interval_seconds: 5, version: "1" }]);
  await waitUntil("ACK", async () => (await server!.state()).answers.length === 1);
  await server!.cmd({ end: "UNAVAILABLE" });
  await waitUntil("second INITIAL", async () => (await server!.state()).initials.length === 2, 3000);
  expect((await server!.state()).initials[1]!.names).toEqual(["a@1"]);
});
