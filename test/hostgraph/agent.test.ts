// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The compiled agent: `run` publishes the host graph of the host it is pointed at (HOST_* set to
// the two-socket server fixture), `store resources --type antimetal.hardware.v1` shows exactly the
// golden resources, and a restart on the same data directory writes nothing. With upload off, the
// outbox records nothing (no consumer would ever drain it).

import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { requireBinary, startAgent } from "../helpers/agent-process.ts";
import { FIXTURES } from "./helpers.ts";

const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), "hostgraph-agent-"));
afterAll(() => fs.rmSync(dataDirectory, { recursive: true, force: true }));

const root = path.join(FIXTURES, "numa-server");
const env = {
  HOST_PROC: `${root}/proc`,
  HOST_SYS: `${root}/sys`,
  HOST_DEV: `${root}/dev`,
  HOST_ETC: `${root}/etc`,
  HOST_VAR: `${root}/var`,
};
const common = ["--data-directory", dataDirectory, "--enable-kubernetes-controller=false", "--enable-performance-collectors=false"];
/** Upload on, to an intake that is down: the outbox has a consumer and keeps every change. */
function uploadingArgs(): string[] {
  const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const deadPort = closed.port;
  closed.stop(true);
  return [...common, "--intake-address", `127.0.0.1:${deadPort}`, "--intake-secure=false", "--intake-api-key", "test-key"];
}

async function runOnce(args = uploadingArgs()): Promise<Record<string, unknown>> {
  const agent = await startAgent(args, env);
  try {
    return await agent.waitForLog((r) => r.msg === "host graph published");
  } finally {
    expect(await agent.stop()).toBe(0);
  }
}

function storeCli(...a: string[]): unknown {
  const r = Bun.spawnSync([requireBinary(), "store", ...a, "--data-directory", dataDirectory], { stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode).toBe(0);
  return JSON.parse(r.stdout.toString());
}

test("run publishes the host graph; store resources shows it; a restart writes nothing", async () => {
  const first = await runOnce();
  expect(first).toMatchObject({ system: "7d2e0b6c94a14f0f8d3a5c1e2b4f6a80", resources: 23 });
  expect(first.written).toBe((first.resources as number) + (first.relationships as number));

  const out = storeCli("resources", "--type", "antimetal.hardware.v1") as { count: number; resources: { resource: Record<string, any> }[] };
  const golden = JSON.parse(fs.readFileSync(path.join(FIXTURES, "numa-server.expected.json"), "utf8")) as {
    resources: Record<string, any>[];
  };
  const strip = (r: Record<string, any>): Record<string, any> => {
    const { createdAt: _c, updatedAt: _u, ...metadata } = r.metadata;
    return { ...r, metadata };
  };
  const got = out.resources.map((x) => strip(x.resource)).sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  const want = golden.resources.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  expect(got).toEqual(want);

  const stats = storeCli("stats") as { outbox: Record<string, { depth: number }> };
  const depth = stats.outbox.instance!.depth;
  expect(depth).toBe((first.resources as number) + (first.relationships as number));

  const second = await runOnce();
  expect(second.written).toBe(0);
  expect((storeCli("stats") as { outbox: Record<string, { depth: number }> }).outbox.instance!.depth).toBe(depth);
});

test("upload off: the outbox records nothing, and what an earlier run left pending is dropped", async () => {
  const before = storeCli("stats") as { outbox: Record<string, { depth: number }> };
  expect(before.outbox.instance!.depth).toBeGreaterThan(0); // left by the uploading runs above
  const run = await runOnce([...common, "--intake-address", ""]);
  expect(run.written).toBe(0);
  const after = storeCli("stats") as { resources: number; outbox: Record<string, { depth: number }> };
  expect(after.resources).toBe(run.resources as number);
  expect(after.outbox.instance?.depth ?? 0).toBe(0);
});
