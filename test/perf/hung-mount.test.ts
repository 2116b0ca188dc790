// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The compiled binary with host files on a mount whose reads hang (a FUSE filesystem that never
// answers READ, like a hard NFS mount whose server is gone): regular files, so only the reader
// threads and deadlines protect the agent. Needs root and /dev/fuse (CI runs as root).

import { afterAll, afterEach, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { createRuntimeGraphComponent } from "../../src/containers/index.ts";
import { HostIo } from "../../src/perf/io.ts";
import { NativeLane } from "../../src/perf/native-read.ts";
import { ReadPool } from "../../src/perf/read-pool.ts";
import { copyFixture, silentLogger, tempStore } from "../containers/helpers.ts";
import { collectionCount, requireBinary, startAgent } from "../helpers/agent-process.ts";
import { cleanupTrees, makeTree } from "./tree.ts";

afterAll(cleanupTrees);

const STAT =
  "cpu  10 0 10 100 0 0 0 0 0 0\ncpu0 10 0 10 100 0 0 0 0 0 0\nintr 5\nctxt 6\nbtime 1700000000\nprocs_running 1\nprocs_blocked 0\n";
const mounts: { dir: string; server: ReturnType<typeof Bun.spawn> }[] = [];

afterEach(async () => {
  for (const m of mounts.splice(0)) {
    m.server.kill("SIGTERM"); // closing /dev/fuse aborts the connection: blocked reads fail
    await m.server.exited;
    Bun.spawnSync(["umount", "-l", m.dir]);
    fs.rmSync(m.dir, { recursive: true, force: true });
  }
});

/** A mount whose files `names` are regular files that open fine but whose reads never return. */
async function hungMount(...names: string[]): Promise<{ dir: string; server: ReturnType<typeof Bun.spawn> }> {
  expect(process.getuid?.()).toBe(0);
  expect(fs.existsSync("/dev/fuse")).toBe(true);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hung-mount-"));
  const server = Bun.spawn([process.execPath, new URL("../helpers/hung-fuse.ts", import.meta.url).pathname, dir, ...names], {
    stdout: "pipe",
    stderr: "inherit",
  });
  mounts.push({ dir, server });
  const reader = server.stdout.getReader();
  const first = await reader.read();
  reader.releaseLock();
  expect(new TextDecoder().decode(first.value)).toBe("ready\n");
  expect(fs.statSync(`${dir}/${names[0]}`).isFile()).toBe(true);
  return { dir, server };
}

/** A HOST_PROC tree whose meminfo and diskstats live on a mount where reads never return. */
async function treeWithHungFiles(): Promise<string> {
  const { dir } = await hungMount("meminfo", "diskstats");
  return makeTree({
    "proc/stat": STAT,
    "proc/loadavg": "0.50 1.25 2.75 2/1234 12345\n",
    "proc/uptime": "100.00 50.00\n",
    "proc/meminfo": { symlink: `${dir}/meminfo` },
    "proc/diskstats": { symlink: `${dir}/diskstats` },
    "sys/.keep": "",
  });
}

test("collect: the hung collectors time out naming the file, the others print, and the process exits", async () => {
  const root = await treeWithHungFiles();
  const t0 = performance.now();
  const p = Bun.spawn([requireBinary(), "collect", "--collectors", "load,cpu,memory,disk"], {
    env: { ...process.env, HOST_PROC: `${root}/proc`, HOST_SYS: `${root}/sys` },
    stdout: "pipe",
    stderr: "pipe",
  });
  const killer = setTimeout(() => p.kill("SIGKILL"), 30_000);
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  clearTimeout(killer);
  expect(performance.now() - t0).toBeLessThan(12_000); // one 5 s collection timeout, then exit
  expect(code).toBe(1);
  const j = JSON.parse(out);
  expect(j.errors.memory).toBe(`timed out after 5000 ms (waiting on read ${root}/proc/meminfo)`);
  expect(j.errors.disk).toBe(`timed out after 5000 ms (waiting on read ${root}/proc/diskstats)`);
  expect(j.load.last_pid).toBe(12345);
  expect(j.cpu[0].user).toBe(10);
}, 60_000);

test("run: the other collectors stay on schedule, and SIGTERM exits within --shutdown-timeout", async () => {
  const root = await treeWithHungFiles();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hung-run-"));
  const agent = await startAgent(
    [
      "--data-directory",
      dataDir,
      "--intake-address",
      "",
      "--node-name",
      "node-hung",
      "--enable-kubernetes-controller=false",
      "--enable-hardware-discovery=false",
      "--enable-performance-collectors",
      "--performance-collector-interval",
      "300ms",
      "--collectors",
      "load,cpu,memory,disk",
      "--shutdown-timeout",
      "3s",
    ],
    { HOST_PROC: `${root}/proc`, HOST_SYS: `${root}/sys` },
  );
  try {
    const count = (collector: string) => collectionCount(agent, collector);
    await Bun.sleep(2000);
    const loadBefore = await count("load");
    const cpuBefore = await count("cpu");
    await Bun.sleep(2000);
    // ~6 collections in 2 s at 300 ms each: the hung reads hold no thread the others need
    expect((await count("load")) - loadBefore).toBeGreaterThanOrEqual(3);
    expect((await count("cpu")) - cpuBefore).toBeGreaterThanOrEqual(3);
    const failed = agent.logs.find((r) => r.msg?.toString().startsWith("collection failed") && r.collector === "memory");
    expect(failed?.err).toBe("timed out after 300 ms");
    expect(failed?.waitingOn).toEqual([`read ${root}/proc/meminfo`]);
    const t0 = performance.now();
    await agent.stop("SIGTERM");
    expect(performance.now() - t0).toBeLessThan(3000);
  } finally {
    if (agent.proc.exitCode === null) agent.proc.kill("SIGKILL");
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 60_000);

/** Waits until `ok` holds, failing after 10 s. */
async function until(what: string, ok: () => boolean): Promise<void> {
  for (const end = Date.now() + 10_000; !ok(); await Bun.sleep(10)) if (Date.now() > end) throw new Error(`not within 10 s: ${what}`);
}

test("runtime graph: a cmdline read on a hung mount holds one of Bun's I/O threads at most; the others go to the reader threads", async () => {
  const { dir, server } = await hungMount("cmdline-a", "cmdline-b");
  const fx = copyFixture("v2-systemd");
  const { store, cleanup } = tempStore();
  const pool = new ReadPool({ stuckAfterMs: 300 });
  try {
    const hung = [`${fx.paths.proc}/1000/cmdline`, `${fx.paths.proc}/3000/cmdline`];
    const texts = hung.map((f) => fs.readFileSync(f, "utf8"));
    hung.forEach((f, i) => {
      fs.rmSync(f);
      fs.symlinkSync(`${dir}/cmdline-${"ab"[i]}`, f);
    });
    const lane = new NativeLane({ deadlineMs: 200 });
    const io = new HostIo(fx.paths.sys, 4, fx.paths.proc, { pool, lane });
    const component = createRuntimeGraphComponent({
      store,
      paths: fx.paths,
      intervalMs: 60_000,
      systemName: async () => "host-1",
      logger: silentLogger,
      io,
    });
    const first = component.refresh().then(
      () => undefined,
      (e: Error) => e,
    );
    // the lane's call on one hung file misses its deadline: the lane closes, the rest (the other hung file too) go to the pool
    await until("a lane call stuck", () => !lane.open);
    const [inLane] = lane.stuckCalls();
    expect(hung.map((f) => `read ${f} (runtime_graph)`)).toContain(inLane!);
    await until("the other hung file stuck in the pool", () => pool.stuckCalls().length === 1);
    expect(pool.stuckCalls()).toEqual(hung.map((f) => `read ${f} (runtime_graph)`).filter((c) => c !== inLane));
    expect(io.stuck()).toHaveLength(2);
    expect(pool.started).toBe(true);
    // Bun's I/O threads still serve the process's other async file calls
    expect(await fsp.readFile(`${fx.paths.proc}/stat`, "utf8")).toContain("btime");
    // the mount's server goes away: the hung reads fail (the connection is aborted), and the scan with them
    server.kill("SIGTERM");
    const err = await first;
    expect(err?.message).toContain("ENOTCONN");
    await until("both hung reads ended", () => io.stuck().length === 0);
    // with the files back, the next scan reads every cmdline on the reader threads; the lane stays closed
    hung.forEach((f, i) => {
      fs.rmSync(f);
      fs.writeFileSync(f, texts[i]!);
    });
    const r = await component.refresh();
    expect(r).toMatchObject({ containers: 5, processes: 8 });
    expect(lane.open).toBe(false);
  } finally {
    pool.close();
    cleanup();
    fx.cleanup();
  }
}, 60_000);
