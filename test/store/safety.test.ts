// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// What protects a data directory: one agent per directory (lock), a store that cannot be written
// fails at open naming the path, private file modes, checkpoint failures logged once per change,
// no outbox for channels nobody uploads, and `store` command errors on stderr. Real files, a real
// read-only bind mount and a real full tmpfs (the tests run as root).

import { afterEach, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, silentLogger } from "../../src/log/logger.ts";
import { registry } from "../../src/metrics/registry.ts";
import { runStoreCommand } from "../../src/store/cli.ts";
import { lockPath, openStore, StoreLockedError, StoreNotWritableError, storePath } from "../../src/store/index.ts";
import { CORE, POD, resource, tempDir } from "./fixtures.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});
function dir(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}
function sh(cmd: string, ...args: string[]): void {
  execFileSync(cmd, args, { stdio: "pipe" });
}
function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n")) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: createLogger({ destination: sink }), lines };
}

test("a second agent on the same data directory fails with the directory and the holder's pid", () => {
  const d = dir();
  const first = openStore({ dataDirectory: d, logger: silentLogger });
  const child = () => Bun.spawnSync([process.execPath, join(import.meta.dir, "lock-child.ts"), d], { stdout: "pipe", stderr: "pipe" });
  const held = child();
  expect(held.exitCode).toBe(1);
  const msg = held.stderr.toString();
  expect(msg).toContain("StoreLockedError");
  expect(msg).toContain(`data directory ${d} is in use by pid ${process.pid}`);
  // in the same process too (a second openStore on the same directory)
  expect(() => openStore({ dataDirectory: d, logger: silentLogger })).toThrow(StoreLockedError);
  // the read-only `store` command does not take the lock
  expect(() => openStore({ dataDirectory: d, logger: silentLogger, readonly: true }).close()).not.toThrow();
  first.close();
  const after = child();
  expect(after.stdout.toString().trim()).toBe("opened");
  expect(after.exitCode).toBe(0);
});

test("a store on a read-only mount fails at open, naming the path (it is not reported ready)", () => {
  const d = dir();
  const s = openStore({ dataDirectory: d, logger: silentLogger });
  s.addResource(resource(POD, "p1"));
  s.close();
  const ro = join(dir(), "ro");
  mkdirSync(ro);
  sh("mount", "--bind", d, ro);
  cleanups.push(() => sh("umount", ro));
  sh("mount", "-o", "remount,bind,ro", ro);
  let err: unknown;
  try {
    openStore({ dataDirectory: ro, logger: silentLogger }).close();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(StoreNotWritableError);
  expect((err as Error).message).toContain(`cannot write the store at ${join(ro, "resource")}`);
  expect((err as Error).message).toContain("EROFS");
});

test("an immutable store file (root cannot write it either) fails at open, naming the file", () => {
  const d = dir();
  openStore({ dataDirectory: d, logger: silentLogger }).close();
  const file = storePath(d);
  sh("chattr", "+i", file);
  cleanups.push(() => sh("chattr", "-i", file));
  expect(() => openStore({ dataDirectory: d, logger: silentLogger })).toThrow(StoreNotWritableError);
  expect(() => openStore({ dataDirectory: d, logger: silentLogger })).toThrow(`cannot write the store at ${file}`);
  // and the lock was released on the failed open
  sh("chattr", "-i", file);
  openStore({ dataDirectory: d, logger: silentLogger }).close();
});

test("the store directory and files are private whatever the umask (0700, 0600)", () => {
  const d = join(dir(), "data");
  const old = process.umask(0);
  try {
    const s = openStore({ dataDirectory: d, logger: silentLogger });
    s.addResource(resource(POD, "p1"));
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    expect(mode(d)).toBe("700");
    expect(mode(join(d, "resource"))).toBe("700");
    expect(mode(storePath(d))).toBe("600");
    expect(mode(`${storePath(d)}-wal`)).toBe("600");
    expect(mode(`${storePath(d)}-shm`)).toBe("600");
    expect(mode(lockPath(d))).toBe("600");
    s.close();
  } finally {
    process.umask(old);
  }
});

async function metricValue(name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values[0]?.value ?? 0;
}

test("a full disk: checkpoint failures are logged once per change and counted, not every 200 ms", async () => {
  const mnt = join(dir(), "small");
  mkdirSync(mnt);
  sh("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt);
  cleanups.push(() => sh("umount", mnt));
  const { logger, lines } = captureLogger();
  const s = openStore({ dataDirectory: mnt, logger });
  cleanups.push(() => s.close());
  // the worker starts once the store is written (300 small rows), before the 1 MiB below
  s.batch(() => {
    for (let i = 0; i < 300; i++) s.updateResource(resource(POD, `w${i}`, "", 16));
  });
  for (let i = 0; i < 300 && !s.checkpointStats?.healthy; i++) await Bun.sleep(10);
  expect(s.checkpointStats?.healthy).toBe(true);
  const failuresBefore = await metricValue("antimetal_store_checkpoint_failures_total");
  // about 1 MiB in the WAL, then fill the disk: the checkpoint cannot grow store.db
  s.batch(() => {
    for (let i = 0; i < 800; i++) s.updateResource(resource(POD, `p${i}`, "", 1024));
  });
  const filler = join(mnt, "filler");
  try {
    writeFileSync(filler, Buffer.alloc(8 * 1024 * 1024));
  } catch (e) {
    expect((e as NodeJS.ErrnoException).code).toBe("ENOSPC");
  }
  await Bun.sleep(1500); // about 7 checkpoint attempts
  const failing = lines.filter(
    (l) => l.msg === "background WAL checkpoints failing (disk full or store not writable?); retrying quietly until one succeeds",
  );
  expect(s.checkpointStats!.failures).toBeGreaterThan(2);
  expect(failing).toHaveLength(1);
  expect(s.checkpointStats!.failing).toBe(true);
  expect(await metricValue("antimetal_store_checkpoint_failures_total")).toBeGreaterThanOrEqual(
    failuresBefore + s.checkpointStats!.failures,
  );
  expect(await metricValue("antimetal_store_checkpoint_failing")).toBe(1);
  // space again: one line saying so, and quiet
  unlinkSync(filler);
  for (let i = 0; i < 300 && s.checkpointStats!.failing; i++) await Bun.sleep(10);
  expect(s.checkpointStats!.failing).toBe(false);
  expect(lines.filter((l) => l.msg === "background WAL checkpoints work again")).toHaveLength(1);
  expect(await metricValue("antimetal_store_checkpoint_failing")).toBe(0);
  expect(lines.filter((l) => l.level === "warn" || (l.level as unknown) === 40)).toHaveLength(1);
});

test("outboxChannels: a channel without a consumer gets no outbox entries; pending ones are dropped at open", () => {
  const d = dir();
  const all = openStore({ dataDirectory: d, logger: silentLogger });
  all.addResource(resource(POD, "p1"));
  all.addResource(resource(CORE, "cpu0"));
  expect(all.outbox.stats("cluster").depth).toBe(1);
  expect(all.outbox.stats("instance").depth).toBe(1);
  all.close();

  const instanceOnly = openStore({ dataDirectory: d, logger: silentLogger, outboxChannels: ["instance"] });
  expect(instanceOnly.outbox.stats("cluster").depth).toBe(0); // dropped at open
  instanceOnly.addResource(resource(POD, "p2"));
  instanceOnly.addResource(resource(CORE, "cpu1"));
  expect(instanceOnly.outbox.stats("cluster").depth).toBe(0);
  expect(instanceOnly.outbox.stats("instance").depth).toBe(2);
  expect(instanceOnly.outbox.channels()).toEqual(["instance"]);
  // the state is stored all the same: a consumer that starts later resyncs it from the tables
  expect([...instanceOnly.outbox.snapshot("cluster", 10)].flat()).toHaveLength(2);
  instanceOnly.close();

  const none = openStore({ dataDirectory: d, logger: silentLogger, outboxChannels: [] });
  for (let i = 0; i < 1000; i++) none.updateResource(resource(CORE, `c${i}`));
  expect(none.outbox.channels()).toEqual([]);
  expect(none.counts().resources).toBe(1004);
  none.close();
});

test("store command: errors go to stderr with one prefix and a non-zero exit; stdout stays empty", async () => {
  const d = dir();
  const missing = await runStoreCommand({ command: "stats" }, { dataDirectory: join(d, "missing") });
  expect(missing.exitCode).toBe(1);
  expect(missing.output).toBe("");
  expect(missing.error).toBe(`store: no store at ${storePath(join(d, "missing"))}\n`);
  // bad usage (exit 2, stderr only) is the CLI parser's: test/agent/cli-input.test.ts
  const memory = await runStoreCommand({ command: "stats" }, { dataDirectory: "" });
  expect(memory.exitCode).toBe(1);
  expect(memory.error).toBe("store: --data-directory is empty (in-memory store): nothing to read\n");
  expect(existsSync(join(d, "missing"))).toBe(false);
});
