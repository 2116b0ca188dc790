// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of execsnoop ring-buffer record decoding: the 48-byte header layout, args/command
// extraction, rejection of truncated/oversized/invalid records, and the command-name helpers.

import { describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import type { MetricEvent } from "../perf/collector.ts";
import { errorMessage } from "../util/errors.ts";
import { ExecsnoopCollector } from "./execsnoop.ts";
import { commandName, EXECSNOOP_RECORD_MAX, goBase, parseExecRecord, RecordError } from "./execsnoop-decode.ts";
import {
  EXECSNOOP_EVENT_LAYOUT,
  EXECSNOOP_EVENT_SIZE,
  type ExecsnoopEvent,
  encodeExecsnoopEvent,
  FULL_MAX_ARGS_ARR,
} from "./gen/execsnoop_types.ts";
import { registerEbpfMetrics } from "./metrics.ts";

/** A record's header: the generated struct's fields, the timestamp optional. */
type Hdr = Omit<ExecsnoopEvent, "timestampNs"> & { timestampNs?: bigint };

function record(h: Hdr, args: string | Uint8Array, total?: number): DataView {
  const argBytes = typeof args === "string" ? new TextEncoder().encode(args) : args;
  const buf = new ArrayBuffer(total ?? EXECSNOOP_EVENT_SIZE + argBytes.length);
  const view = new DataView(buf);
  encodeExecsnoopEvent(view, { timestampNs: 0n, ...h });
  new Uint8Array(buf).set(argBytes.subarray(0, buf.byteLength - EXECSNOOP_EVENT_SIZE), EXECSNOOP_EVENT_SIZE);
  return view;
}

describe("execsnoop record layout", () => {
  test("header is 48 bytes: the original 40-byte layout plus a u64 kernel timestamp", () => {
    expect(EXECSNOOP_EVENT_SIZE).toBe(48);
    expect(EXECSNOOP_EVENT_LAYOUT.pid.offset).toBe(0);
    expect(EXECSNOOP_EVENT_LAYOUT.ppid.offset).toBe(4);
    expect(EXECSNOOP_EVENT_LAYOUT.uid.offset).toBe(8);
    expect(EXECSNOOP_EVENT_LAYOUT.retval.offset).toBe(12);
    expect(EXECSNOOP_EVENT_LAYOUT.args_count.offset).toBe(16);
    expect(EXECSNOOP_EVENT_LAYOUT.args_size.offset).toBe(20);
    expect(EXECSNOOP_EVENT_LAYOUT.comm).toEqual({ offset: 24, size: 16, type: "char[16]" });
    expect(EXECSNOOP_EVENT_LAYOUT.timestamp_ns).toEqual({ offset: 40, size: 8, type: "u64" });
  });
});

describe("parseExecRecord (acceptance 29)", () => {
  test("three args; command is args[0]", () => {
    const ev = parseExecRecord(
      record(
        { pid: 1234, ppid: 1000, uid: 1001, retval: 0, argsCount: 3, argsSize: 15, comm: "test-cmd", timestampNs: 123456789012345n },
        "arg1\0arg2\0arg3\0",
      ),
    );
    expect(ev).toEqual({
      timestampNs: 123456789012345n,
      pid: 1234,
      ppid: 1000,
      uid: 1001,
      retval: 0,
      comm: "test-cmd",
      command: "arg1",
      args: ["arg1", "arg2", "arg3"],
    });
  });
  test("no args: command stays comm, retval negative", () => {
    const ev = parseExecRecord(record({ pid: 5678, ppid: 5000, uid: 2001, retval: -1, argsCount: 0, argsSize: 0, comm: "noargs" }, ""));
    expect(ev.command).toBe("noargs");
    expect(ev.args).toEqual([]);
    expect(ev.retval).toBe(-1);
    expect(ev.uid).toBe(2001);
  });
  test("basename of a path", () => {
    expect(
      parseExecRecord(record({ pid: 1, ppid: 0, uid: 0, retval: 0, argsCount: 2, argsSize: 16, comm: "sh" }, "/usr/bin/ls\0-la\0")).command,
    ).toBe("ls");
    expect(parseExecRecord(record({ pid: 1, ppid: 0, uid: 0, retval: 0, argsCount: 1, argsSize: 5, comm: "sh" }, "echo\0")).command).toBe(
      "echo",
    );
  });
  test("args[0] with spaces: trimmed for the command, kept untrimmed in args", () => {
    const ev = parseExecRecord(record({ pid: 1, ppid: 0, uid: 0, retval: 0, argsCount: 1, argsSize: 13, comm: "x" }, "  /bin/cat  \0"));
    expect(ev.command).toBe("cat");
    expect(ev.args).toEqual(["  /bin/cat  "]);
  });
  test('args[0] "/" keeps comm', () => {
    expect(parseExecRecord(record({ pid: 1, ppid: 0, uid: 0, retval: 0, argsCount: 1, argsSize: 2, comm: "init" }, "/\0")).command).toBe(
      "init",
    );
  });
  test("a full 16-byte comm without NUL is kept whole", () => {
    const v = record({ pid: 1, ppid: 0, uid: 0, retval: 0, argsCount: 0, argsSize: 0, comm: "" }, "");
    new Uint8Array(v.buffer).set(new TextEncoder().encode("abcdefghijklmnop"), EXECSNOOP_EVENT_LAYOUT.comm.offset);
    expect(parseExecRecord(v).comm).toBe("abcdefghijklmnop");
  });
  test("stops at args_count even when more strings follow", () => {
    const ev = parseExecRecord(record({ pid: 1, ppid: 0, uid: 0, retval: 0, argsCount: 1, argsSize: 6, comm: "a" }, "a\0b\0c\0"));
    expect(ev.args).toEqual(["a"]);
  });
});

describe("malformed records are rejected", () => {
  test("4 bytes: truncated", () => {
    const e = (() => {
      try {
        parseExecRecord(new DataView(new ArrayBuffer(4)));
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(RecordError);
    expect((e as RecordError).reason).toBe("truncated");
    expect(errorMessage(e)).toContain("event too small");
  });
  test("args_size 100 with 5 bytes: truncated (args size mismatch)", () => {
    const v = record({ pid: 1, ppid: 0, uid: 0, retval: 0, argsCount: 1, argsSize: 100, comm: "x" }, "abcd\0");
    expect(() => parseExecRecord(v)).toThrow(/args size mismatch/);
    try {
      parseExecRecord(v);
    } catch (e) {
      expect((e as RecordError).reason).toBe("truncated");
    }
  });
  test("record larger than header + 7680: oversized", () => {
    const v = record({ pid: 1, ppid: 0, uid: 0, retval: 0, argsCount: 0, argsSize: 0, comm: "x" }, "", EXECSNOOP_RECORD_MAX + 1);
    expect(() => parseExecRecord(v)).toThrow(/event too large/);
  });
  test("args_size above the 7680-byte buffer: oversized", () => {
    const v = record(
      { pid: 1, ppid: 0, uid: 0, retval: 0, argsCount: 1, argsSize: FULL_MAX_ARGS_ARR + 1, comm: "x" },
      "",
      EXECSNOOP_RECORD_MAX,
    );
    try {
      parseExecRecord(v);
      throw new Error("not rejected");
    } catch (e) {
      expect((e as RecordError).reason).toBe("oversized");
    }
  });
  test("negative args_count: invalid", () => {
    expect(() => parseExecRecord(record({ pid: 1, ppid: 0, uid: 0, retval: 0, argsCount: -1, argsSize: 0, comm: "x" }, ""))).toThrow(
      /args count/,
    );
  });
  test("the collector counts rejected records by reason and emits the good ones", async () => {
    const reg = new Registry();
    const c = new ExecsnoopCollector({ metrics: registerEbpfMetrics(reg) });
    const out: MetricEvent[] = [];
    const good = record({ pid: 7, ppid: 1, uid: 0, retval: 0, argsCount: 1, argsSize: 5, comm: "echo", timestampNs: 5n }, "echo\0");
    expect(c.ingest(good, 0, good.byteLength, (e) => out.push(e))).toBe(true);
    expect(c.ingest(new DataView(new ArrayBuffer(10)), 0, 10, (e) => out.push(e))).toBe(false);
    const big = record({ pid: 1, ppid: 0, uid: 0, retval: 0, argsCount: 0, argsSize: 0, comm: "x" }, "", EXECSNOOP_RECORD_MAX + 8);
    expect(c.ingest(big, 0, big.byteLength, (e) => out.push(e))).toBe(false);
    expect(out).toHaveLength(1);
    c.flushCounters(); // the reader calls this after every batch
    expect(out[0]!.metricType).toBe("execsnoop");
    expect(out[0]!.eventType).toBe("event");
    expect(out[0]!.data).toMatchObject({ timestamp: 5n, pid: 7, ppid: 1, comm: "echo", command: "echo", args: ["echo"], retval: 0 });
    const text = await reg.metrics();
    expect(text).toContain('antimetal_ebpf_records_rejected_total{program="execsnoop",reason="truncated"} 1');
    expect(text).toContain('antimetal_ebpf_records_rejected_total{program="execsnoop",reason="oversized"} 1');
    expect(text).toContain("antimetal_execsnoop_events_total 1");
    expect(c.stats().rejected).toBe(2);
  });
});

describe("command name helpers", () => {
  test.each([
    ["", "."],
    ["/", "/"],
    ["///", "/"],
    ["/usr/bin/", "bin"],
    ["a", "a"],
  ])("goBase follows Go's filepath.Base: %p", (path, base) => {
    expect(goBase(path)).toBe(base);
  });
  test("commandName falls back to comm", () => {
    expect(commandName("c", [])).toBe("c");
    expect(commandName("c", [""])).toBe("c");
    expect(commandName("c", ["."])).toBe("c");
  });
});
