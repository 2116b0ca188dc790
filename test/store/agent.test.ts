// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The compiled agent and its data directory: a second `run` on a directory in use, or a `run` on a
// read-only one, fails at start with the reason in one log line; `store` command errors go to
// stderr with one prefix.

import { afterEach, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { requireBinary, startAgent } from "../helpers/agent-process.ts";
import { tempDir } from "./fixtures.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});
function dir(): string {
  const t = tempDir("store-agent-");
  cleanups.push(t.cleanup);
  return t.dir;
}
const standalone = [
  "--intake-address",
  "",
  "--enable-kubernetes-controller=false",
  "--enable-performance-collectors=false",
  "--enable-hardware-discovery=false",
];

/** `run` that is expected to fail before listening: its exit code and its log lines. */
async function failingRun(dataDirectory: string): Promise<{ exitCode: number; logs: Record<string, unknown>[] }> {
  const proc = Bun.spawn(
    [
      requireBinary(),
      "run",
      "--data-directory",
      dataDirectory,
      "--health-probe-bind-address",
      "127.0.0.1:0",
      "--metrics-bind-address",
      "127.0.0.1:0",
      "--log-format",
      "json",
      ...standalone,
    ],
    { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
  );
  const exitCode = await proc.exited;
  const text = await new Response(proc.stderr).text();
  return {
    exitCode,
    logs: text
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test("a second agent on the same data directory exits 1 naming the directory and the first agent's pid", async () => {
  const d = dir();
  const first = await startAgent(["--data-directory", d, ...standalone]);
  try {
    const second = await failingRun(d);
    expect(second.exitCode).toBe(1);
    const failed = second.logs.find((l) => l.msg === "agent failed to start");
    expect(failed?.err).toBe(
      `data directory ${d} is in use by pid ${first.proc.pid} (another agent holds its lock); give each agent its own --data-directory`,
    );
  } finally {
    expect(await first.stop()).toBe(0);
  }
  // the lock goes with the first agent
  const again = await startAgent(["--data-directory", d, ...standalone]);
  expect(await again.stop()).toBe(0);
});

test("a read-only data directory fails the start (exit 1) with the path, instead of a ready agent that cannot write", async () => {
  const d = dir();
  const seeded = await startAgent(["--data-directory", d, ...standalone]);
  expect(await seeded.stop()).toBe(0);
  const ro = join(dir(), "ro");
  mkdirSync(ro);
  execFileSync("mount", ["--bind", d, ro]);
  cleanups.push(() => execFileSync("umount", [ro]));
  execFileSync("mount", ["-o", "remount,bind,ro", ro]);
  const run = await failingRun(ro);
  expect(run.exitCode).toBe(1);
  const failed = run.logs.find((l) => l.msg === "agent failed to start");
  expect(String(failed?.err)).toStartWith(`cannot write the store at ${join(ro, "resource")}: `);
});

test("an immutable store file fails the start (exit 1) naming the file", async () => {
  const d = dir();
  const seeded = await startAgent(["--data-directory", d, ...standalone]);
  expect(await seeded.stop()).toBe(0);
  const file = join(d, "resource", "store.db");
  execFileSync("chattr", ["+i", file]);
  cleanups.push(() => execFileSync("chattr", ["-i", file]));
  const run = await failingRun(d);
  expect(run.exitCode).toBe(1);
  const failed = run.logs.find((l) => l.msg === "agent failed to start");
  expect(String(failed?.err)).toStartWith(`cannot write the store at ${file}: `);
});

test("store command errors: stderr, one prefix, exit 1, nothing on stdout", () => {
  const missing = join(dir(), "missing");
  const r = Bun.spawnSync([requireBinary(), "store", "stats", "--data-directory", missing], { stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode).toBe(1);
  expect(r.stdout.toString()).toBe("");
  expect(r.stderr.toString()).toBe(`store: no store at ${join(missing, "resource", "store.db")}\n`);
});
