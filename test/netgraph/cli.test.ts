// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The compiled binary: `collect --collectors tcpflow --duration` prints this process's loopback
 * connections as JSON lines (both ends, bytes, duration); `collect --collectors
 * oomkill,procexit,tcpflow` runs the three programs in one start and stops on SIGINT; `check`
 * reports tcpflow available.
 */

import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { lines } from "./netns.ts";

const BIN = join(import.meta.dir, "..", "..", "dist", "antimetal-agent");

test("collect --collectors tcpflow --duration 3s prints each connection as JSON lines", async () => {
  expect(process.getuid?.()).toBe(0);
  expect(existsSync(BIN)).toBe(true);
  const agent = Bun.spawn([BIN, "collect", "--collectors", "tcpflow", "--duration", "3s"], { stdout: "pipe", stderr: "pipe" });
  for await (const l of lines(agent.stderr as ReadableStream<Uint8Array>)) if (l.includes("tcpflow attached")) break;

  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on("data", () => {});
    s.on("end", () => s.end("pong!"));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const sports: number[] = [];
  for (let i = 0; i < 5; i++) {
    await new Promise<void>((resolve, reject) => {
      const c = connect(port, "127.0.0.1", () => {
        sports.push(c.localPort!);
        c.end("ping");
      });
      c.on("data", () => {});
      c.on("error", reject);
      c.on("close", () => resolve());
    });
  }
  server.close();
  const out = await new Response(agent.stdout).text();
  expect(await agent.exited).toBe(0);
  const recs = out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  for (const sport of sports) {
    const mine = recs.filter((r) => (r.sport === sport && r.dport === port) || (r.dport === sport && r.sport === port));
    expect(mine.map((r) => `${r.kind}/${r.direction}`).sort()).toEqual([
      "accept/inbound",
      "close/inbound",
      "close/outbound",
      "connect/outbound",
    ]);
    for (const r of mine) expect(r).toMatchObject({ pid: process.pid, family: "ipv4", saddr: "127.0.0.1", daddr: "127.0.0.1" });
    const close = mine.find((r) => r.kind === "close" && r.direction === "outbound");
    expect(close).toMatchObject({ bytes_sent: 4, bytes_received: 5, failed: false });
    expect(close.duration_ns).toBeGreaterThan(0);
    expect(Date.parse(close.time)).toBeGreaterThan(Date.now() - 60_000);
  }
}, 30_000);

test("check reports tcpflow and oomkill available (text and JSON)", () => {
  const text = Bun.spawnSync([BIN, "check", "--intake-address", ""], { stdout: "pipe", stderr: "pipe" }).stdout.toString();
  expect(text).toContain("collector tcpflow: available");
  const json = JSON.parse(
    Bun.spawnSync([BIN, "check", "--intake-address", "", "--format", "json"], { stdout: "pipe", stderr: "pipe" }).stdout.toString(),
  );
  expect(json.collectors.tcpflow).toMatchObject({ available: true, minKernel: "5.8" });
  expect(json.collectors.oomkill).toMatchObject({ available: true, minKernel: "5.8" });
  expect(text).toContain("collector oomkill: available");
});

test("collect --collectors oomkill,procexit,tcpflow: one start, program-tagged JSON lines, SIGINT ends it early", async () => {
  const agent = Bun.spawn([BIN, "collect", "--collectors", "oomkill,procexit,tcpflow", "--duration", "120s"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  let attached = 0;
  for await (const l of lines(agent.stderr as ReadableStream<Uint8Array>))
    if (/"(tcpflow|oomkill|procexit) attached"/.test(l) && ++attached === 3) break;
  expect(attached).toBe(3);
  const child = Bun.spawn(["/bin/true", "cli-programs"]);
  await child.exited;
  const server = createServer((s) => s.end("hi"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve, reject) => {
    const c = connect(port, "127.0.0.1");
    c.on("data", () => {});
    c.on("error", reject);
    c.on("close", () => resolve());
  });
  server.close();
  await Bun.sleep(500);
  const t0 = Date.now();
  agent.kill("SIGINT");
  const out = await new Response(agent.stdout).text();
  expect(await agent.exited).toBe(0);
  expect(Date.now() - t0).toBeLessThan(30_000); // not the 120 s window
  const recs = out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  expect(recs.some((r) => r.program === "procexit" && r.kind === "exec" && r.pid === child.pid && r.comm === "true")).toBe(true);
  expect(recs.some((r) => r.program === "procexit" && r.kind === "exit" && r.pid === child.pid)).toBe(true);
  const flows = recs.filter((r) => r.program === "tcpflow" && (r.sport === port || r.dport === port));
  expect(flows.map((r) => `${r.kind}/${r.direction}`).sort()).toEqual([
    "accept/inbound",
    "close/inbound",
    "close/outbound",
    "connect/outbound",
  ]);
  expect(recs.every((r) => ["tcpflow", "oomkill", "procexit"].includes(r.program))).toBe(true);
}, 60_000);

test("collect: oomkill/procexit cannot be combined with a point collector", () => {
  const p = Bun.spawnSync([BIN, "collect", "--collectors", "procexit,cpu"], { stdout: "pipe", stderr: "pipe" });
  expect(p.exitCode).not.toBe(0);
  expect(p.stderr.toString()).toContain("cannot be combined with cpu");
});
