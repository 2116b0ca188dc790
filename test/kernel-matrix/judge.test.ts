// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The kernel matrix's judges fail the cells they must fail: a lost, duplicated or mangled exec, a
 * failed exec with the wrong errno, BTF hidden but execsnoop still on, an agent killed by a signal,
 * and console noise inside a result. (The guests themselves run in matrix.test.ts.)
 */
import { expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import {
  type GuestRun,
  judgeCheck,
  judgeExecsnoopCapture,
  judgeExecsnoopLoad,
  judgeNoBtf,
  type KernelResult,
  matrixCells,
  parseKernelsConf,
  parseSerial,
  renderTable,
} from "../../scripts/kernel-matrix/matrix.ts";
import { docsPage } from "../../scripts/kernel-matrix/run.ts";

/** The console the guest's init.sh prints for one step. */
function frame(step: string, exitCode: number, output: string): string {
  const b64 = gzipSync(Buffer.from(output)).toString("base64");
  const lines = b64.match(/.{1,76}/g) ?? [];
  return [`KMATRIX-BEGIN ${step} ${exitCode}`, ...lines, `KMATRIX-END ${step}`].join("\r\n");
}

const NONCE = "abcd1234";
const header = (burst: number) =>
  JSON.stringify({
    nonce: NONCE,
    burst,
    attached_before_burst: "yes",
    duration: "6s",
    start_s: 1,
    attached_s: 2,
    burst_done_s: 3,
    exited_s: 7,
  });
const exec = (i: number, over: Record<string, unknown> = {}) =>
  JSON.stringify({
    pid: 100 + i,
    ppid: 1,
    uid: 0,
    retval: 0,
    comm: "true",
    command: "true",
    args: ["/bin/true", "kmatrix-burst", NONCE, String(i)],
    ...over,
  });
const enoent = JSON.stringify({
  pid: 99,
  ppid: 1,
  uid: 0,
  retval: -2,
  comm: "init",
  command: "kmatrix-missing",
  args: ["/kmatrix-missing", "kmatrix-fail", NONCE],
});

function guest(execLines: string[], burst = 3): GuestRun {
  const serial = [
    "[    1.0] some boot line",
    "KMATRIX-BOOTED 6.1.0-50-amd64 x86_64",
    frame("execsnoop", 0, [header(burst), ...execLines].join("\n") + "\n"),
    "KMATRIX-DONE",
  ].join("\r\n");
  return parseSerial(serial);
}

test("a complete burst passes; the decoded console keeps release and exit codes", () => {
  const run = guest([exec(1), exec(2), exec(3), enoent]);
  expect(run.booted).toEqual({ release: "6.1.0-50-amd64", machine: "x86_64" });
  expect(run.done).toBe(true);
  expect(run.problems).toEqual([]);
  expect(judgeExecsnoopLoad(run)).toEqual({ ok: true, text: "ok (2 tracepoints)" });
  expect(judgeExecsnoopCapture(run)).toEqual({ ok: true, text: "3/3 execs + ENOENT" });
});

test("a lost, duplicated or mangled exec fails the capture cell, naming what was wrong", () => {
  expect(judgeExecsnoopCapture(guest([exec(1), exec(3), enoent]))).toEqual({ ok: false, text: "FAIL: 1 of 3 execs missing" });
  expect(judgeExecsnoopCapture(guest([exec(1), exec(2), exec(2), exec(3), enoent]))).toEqual({ ok: false, text: "FAIL: 1 seen twice" });
  expect(
    judgeExecsnoopCapture(guest([exec(1), exec(2), exec(3, { args: ["/bin/true", "kmatrix-burst", NONCE, "3", "x"] }), enoent])).text,
  ).toBe("FAIL: 1 of 3 execs missing, 1 with wrong fields");
  expect(judgeExecsnoopCapture(guest([exec(1), exec(2), exec(3, { retval: -1 }), enoent])).ok).toBe(false);
  expect(judgeExecsnoopCapture(guest([exec(1), exec(2), exec(3)])).text).toBe("FAIL: failed exec not seen");
  const wrongErrno = JSON.parse(enoent);
  wrongErrno.retval = -13;
  expect(judgeExecsnoopCapture(guest([exec(1), exec(2), exec(3), JSON.stringify(wrongErrno)])).text).toBe(
    "FAIL: failed exec retval -13, want -2",
  );
});

test("execsnoop reporting an error fails load+attach with the agent's message", () => {
  const serial = [
    "KMATRIX-BOOTED 5.10.0-32-amd64 x86_64",
    frame("execsnoop", 1, header(3) + '\n{"errors":{"execsnoop":"loading eBPF object execsnoop (bpf_object__load): Invalid argument"}}\n'),
  ].join("\n");
  expect(judgeExecsnoopLoad(parseSerial(serial)).text).toBe(
    "FAIL: exit 1: loading eBPF object execsnoop (bpf_object__load): Invalid argument",
  );
});

test("an agent killed by a signal is named as such", () => {
  const serial = frame("execsnoop", 139, header(3) + "\n");
  expect(judgeExecsnoopLoad(parseSerial(serial)).text).toBe("FAIL: the agent was killed by SIGSEGV (exit 139)");
});

test("check must report BTF, a probed ring buffer and execsnoop available", () => {
  const check = (c: unknown) => parseSerial([frame("check", 0, JSON.stringify(c))].join("\n"));
  const good = {
    btf: { present: true },
    ringBuffer: { supported: true, probed: true },
    libbpf: { version: "1.1" },
    collectors: { execsnoop: { available: true } },
  };
  expect(judgeCheck(check(good))).toEqual({ ok: true, text: "ok (BTF, ring buffer probed, libbpf 1.1)" });
  expect(judgeCheck(check({ ...good, ringBuffer: { supported: true, probed: false, reason: "not probed" } })).text).toBe(
    "FAIL: ring buffer: not probed",
  );
  expect(judgeCheck(check({ ...good, collectors: { execsnoop: { available: false, reason: "missing capability: CAP_BPF" } } })).text).toBe(
    "FAIL: execsnoop unavailable: missing capability: CAP_BPF",
  );
});

test("without BTF, execsnoop must be off naming BTF in check and in collect", () => {
  const off = {
    btf: { present: false },
    collectors: { execsnoop: { available: false, reason: "kernel BTF (/sys/kernel/btf/vmlinux) missing: CO-RE relocation impossible" } },
  };
  const refused = '{"errors":{"execsnoop":"execsnoop unavailable: kernel BTF /sys/kernel/btf/vmlinux missing"}}';
  const run = (c: unknown, rc: number, out: string) =>
    parseSerial([frame("nobtf-check", 0, JSON.stringify(c)), frame("nobtf-execsnoop", rc, out)].join("\n"));
  expect(judgeNoBtf(run(off, 1, refused))).toEqual({ ok: true, text: "off, as check says (BTF missing)" });
  expect(judgeNoBtf(run({ ...off, collectors: { execsnoop: { available: true } } }, 1, refused)).ok).toBe(false);
  // Loading anyway (exit 0) is the silent failure the matrix exists to catch.
  expect(judgeNoBtf(run(off, 0, "")).ok).toBe(false);
});

test("a kernel message inside a result is skipped and reported (the gzip CRC guards the result itself)", () => {
  const body = frame("check", 0, "{}").split("\r\n");
  body.splice(1, 0, "[   12.345678] random: crng init done");
  const run = parseSerial(body.join("\n"));
  expect(run.problems).toEqual(['step check: stray console line "[   12.345678] random: crng init done"']);
});

test("kernels.conf lines are id, arch, suite", () => {
  expect(parseKernelsConf("# c\n6.1-arm64 arm64 bookworm # x\n\n")).toEqual([{ id: "6.1-arm64", arch: "arm64", suite: "bookworm" }]);
  expect(() => parseKernelsConf("6.1 riscv64 bookworm")).toThrow('kernels.conf line 1: want "id amd64|arm64 suite"');
});

test("the docs page's matrix reads back cell for cell, ignoring the other tables and the accelerator", () => {
  const row = (accel: "kvm" | "tcg", capture: string): KernelResult => ({
    kernel: { id: "6.1-amd64", arch: "amd64", suite: "bookworm" },
    release: "6.1.0-50-amd64",
    accel,
    bootSeconds: 1,
    cells: { check: { ok: true, text: "ok" }, "execsnoop capture": { ok: capture.startsWith("200"), text: capture } },
  });
  const page = matrixCells(docsPage([row("tcg", "200/200 execs + ENOENT")]));
  expect(page.get("6.1 (bookworm)/x86-64|execsnoop capture")).toBe("200/200 execs + ENOENT");
  expect(page.size).toBe(8); // one row, eight result columns; the "needs" table below it is not read
  expect(Object.fromEntries(page)).toEqual(Object.fromEntries(matrixCells(renderTable([row("kvm", "200/200 execs + ENOENT")]))));
  expect(Object.fromEntries(page)).not.toEqual(Object.fromEntries(matrixCells(renderTable([row("kvm", "FAIL: 1 of 200 execs missing")]))));
  expect(() => matrixCells("# no table\n")).toThrow("no kernel matrix table");
});
