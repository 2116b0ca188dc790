// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// ProcessLister over a fixture /proc: what a steady scan re-reads, and that an unchanged process comes
// back as the same object (the plan keys its signatures by object) while any change gives a new one.

import { afterEach, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { HostIo } from "../perf/io.ts";
import { type ProcessInfo, ProcessLister } from "./processes.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function fixture(): { proc: string; write(pid: number, o?: { state?: string; ppid?: number; comm?: string; cgroup?: string }): void } {
  const proc = fs.mkdtempSync(path.join(os.tmpdir(), "rt-proc-"));
  dirs.push(proc);
  fs.writeFileSync(`${proc}/stat`, "cpu 1 2 3 4\nbtime 1764900000\n");
  return {
    proc,
    write(pid, o = {}) {
      fs.mkdirSync(`${proc}/${pid}`, { recursive: true });
      const stat = `${pid} (${o.comm ?? "app"}) ${o.state ?? "S"} ${o.ppid ?? 1} ${pid} ${pid} 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 ${1000 + pid} 1000000 100 0\n`;
      fs.writeFileSync(`${proc}/${pid}/stat`, stat);
      fs.writeFileSync(`${proc}/${pid}/cgroup`, `0::${o.cgroup ?? "/system.slice/a.scope"}\n`);
      fs.writeFileSync(`${proc}/${pid}/cmdline`, `/bin/${o.comm ?? "app"}\0--flag\0`);
    },
  };
}

const byPid = (ps: ProcessInfo[]) => new Map(ps.map((p) => [p.pid, p]));
const matchScope = (text: string) => (text.includes("/b.scope") ? "b" : text.includes("/a.scope") ? "a" : "");

test("an unchanged process is the same object scan after scan; a state, parent or exec change gives a new one", async () => {
  const fx = fixture();
  for (const pid of [100, 101, 102, 103]) fx.write(pid);
  const lister = new ProcessLister(new HostIo("/sys", 4, fx.proc), fx.proc);
  const signal = new AbortController().signal;
  const first = byPid((await lister.list(matchScope, signal)).processes);
  expect(first.get(100)).toMatchObject({ pid: 100, ppid: 1, state: "S", command: "app", cmdline: "/bin/app --flag", container: "a" });

  fx.write(101, { state: "T" });
  fx.write(102, { ppid: 100 });
  fx.write(103, { comm: "other" }); // an exec: same pid and start time, new comm and cmdline
  const second = byPid((await lister.list(matchScope, signal)).processes);
  expect(second.get(100)).toBe(first.get(100)!);
  for (const pid of [101, 102, 103]) expect(second.get(pid)).not.toBe(first.get(pid)!);
  expect(second.get(101)?.state).toBe("T");
  expect(second.get(102)?.ppid).toBe(100);
  expect(second.get(103)).toMatchObject({ command: "other", cmdline: "/bin/other --flag" });
  // the new objects are reused in turn
  const third = byPid((await lister.list(matchScope, signal)).processes);
  for (const pid of [100, 101, 102, 103]) expect(third.get(pid)).toBe(second.get(pid)!);
});

test("a process moved to another cgroup without an exec is seen within ten scans, as a new object", async () => {
  const fx = fixture();
  fx.write(200);
  const lister = new ProcessLister(new HostIo("/sys", 4, fx.proc), fx.proc);
  const signal = new AbortController().signal;
  const before = (await lister.list(matchScope, signal)).processes[0]!;
  fx.write(200, { cgroup: "/system.slice/b.scope" });
  let after = before;
  for (let scan = 0; scan < 10 && after.container === "a"; scan++) after = (await lister.list(matchScope, signal)).processes[0]!;
  expect(after.container).toBe("b");
  expect(after).not.toBe(before);
});

test("a vanished process is gone from the next scan; a listing error names the proc root", async () => {
  const fx = fixture();
  fx.write(300);
  fx.write(301);
  const lister = new ProcessLister(new HostIo("/sys", 4, fx.proc), fx.proc);
  const signal = new AbortController().signal;
  expect((await lister.list(matchScope, signal)).processes.map((p) => p.pid)).toEqual([300, 301]);
  fs.rmSync(`${fx.proc}/301`, { recursive: true });
  expect((await lister.list(matchScope, signal)).processes.map((p) => p.pid)).toEqual([300]);
  const missing = `${fx.proc}/nope`;
  await expect(new ProcessLister(new HostIo("/sys", 4, missing), missing).list(matchScope, signal)).rejects.toThrow(missing);
});
