// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The kernel matrix's tcpflow, oomkill and procexit cells (the guest's "programs" step) fail when
 * they must: a program that did not load, a missing connection end or wrong byte count, an OOM kill
 * or a process not seen, an agent that never attached. (The guests themselves run in matrix.test.ts.)
 */
import { expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { type GuestRun, judgeOomkill, judgeProcexit, judgeTcpflow, parseSerial } from "../../scripts/kernel-matrix/matrix.ts";

function frame(step: string, exitCode: number, output: string): string {
  const b64 = gzipSync(Buffer.from(output)).toString("base64");
  return [`KMATRIX-BEGIN ${step} ${exitCode}`, ...(b64.match(/.{1,76}/g) ?? []), `KMATRIX-END ${step}`].join("\r\n");
}

const HEADER = { attached: "yes", port: 7777, sent: 7, echoed: 7, procs: [201, 202], oom_pid: 300, oom_status: 137 };
const flow = (kind: string, direction: string, over: Record<string, unknown> = {}) => ({
  program: "tcpflow",
  kind,
  direction,
  ...(direction === "outbound" ? { sport: 40000, dport: 7777 } : { sport: 7777, dport: 40000 }),
  ...(kind === "close" ? { bytes_sent: 7, bytes_received: 7, failed: false } : {}),
  ...over,
});
const GOOD = [
  flow("close", "outbound", { sport: 39999, bytes_sent: 0, bytes_received: 0, failed: true }), // a refused first try
  flow("connect", "outbound"),
  flow("accept", "inbound"),
  flow("close", "outbound"),
  flow("close", "inbound"),
  { program: "procexit", kind: "exec", pid: 201, ppid: 1, comm: "true" },
  { program: "procexit", kind: "exit", pid: 201, ppid: 1, comm: "true" },
  { program: "procexit", kind: "exec", pid: 202, ppid: 1, comm: "true" },
  { program: "procexit", kind: "exit", pid: 202, ppid: 1, comm: "true" },
  { program: "oomkill", pid: 300, comm: "sh" },
];

function guest(records: unknown[], opts: { rc?: number; header?: Record<string, unknown> } = {}): GuestRun {
  const out = [JSON.stringify({ ...HEADER, ...opts.header }), ...records.map((r) => JSON.stringify(r))].join("\n") + "\n";
  return parseSerial(["KMATRIX-BOOTED 6.1.0-50-amd64 x86_64", frame("programs", opts.rc ?? 0, out), "KMATRIX-DONE"].join("\r\n"));
}

test("all three programs seen doing what the step did pass", () => {
  const run = guest(GOOD);
  expect(judgeTcpflow(run)).toEqual({ ok: true, text: "ok (3 tracepoints; connect, accept, 2 closes, 7 B each way)" });
  expect(judgeOomkill(run)).toEqual({ ok: true, text: "ok (2 tracepoints; the OOM kill seen)" });
  expect(judgeProcexit(run)).toEqual({ ok: true, text: "ok (2 tracepoints; 2/2 exec+exit)" });
});

test("tcpflow: a missing end or wrong bytes fail, naming it", () => {
  const without = (i: number) => GOOD.filter((_, j) => j !== i);
  expect(judgeTcpflow(guest(without(1))).text).toBe("FAIL: no connect");
  expect(judgeTcpflow(guest(without(2))).text).toBe("FAIL: no accept");
  const wrong = GOOD.map((r, j) => (j === 4 ? { ...r, bytes_received: 8 } : r));
  expect(judgeTcpflow(guest(wrong)).text).toBe("FAIL: server close bytes 7/8, want 7/7");
  expect(judgeTcpflow(guest(GOOD, { header: { echoed: 0 } })).text).toBe("FAIL: the nc exchange did not complete (echoed 0 of 7)");
});

test("oomkill and procexit: the kill or a process not seen fails", () => {
  expect(judgeOomkill(guest(GOOD.filter((r) => r.program !== "oomkill"))).text).toBe("FAIL: no OOM kill of pid 300 (saw none)");
  expect(judgeOomkill(guest(GOOD, { header: { oom_pid: 0 } })).text).toBe("FAIL: the OOM step did not run");
  const noExit = GOOD.filter((r) => !(r.program === "procexit" && r.kind === "exit" && (r as { pid?: number }).pid === 202));
  expect(judgeProcexit(guest(noExit)).text).toBe("FAIL: 1 of 2 processes without exec+exit");
});

test("a program that could not load fails its own cell with the agent's message; a crash or no attach fails all", () => {
  const run = guest([...GOOD.filter((r) => r.program !== "oomkill"), { errors: { oomkill: "oomkill: attach failed: No such file" } }], {
    rc: 1,
  });
  expect(judgeOomkill(run).text).toBe("FAIL: oomkill: attach failed: No such file");
  expect(judgeTcpflow(run).ok).toBe(false); // exit 1: the step as a whole failed
  expect(judgeProcexit(guest(GOOD, { rc: 134 })).text).toBe("FAIL: the agent was killed by SIGABRT (exit 134)");
  expect(judgeTcpflow(guest([], { header: { attached: "no" } })).text).toBe("FAIL: the agent never held its six tracepoint attachments");
  expect(judgeTcpflow(parseSerial("KMATRIX-BOOTED 6.1.0-50-amd64 x86_64\r\n")).text).toBe(
    "FAIL: no result from collect --collectors tcpflow,oomkill,procexit",
  );
});
