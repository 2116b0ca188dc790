// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the kernel log parsers: /dev/kmsg records, subsystem/device heuristics, syslog(2)
// READ_ALL text, and follow-mode resume across ring growth and wrap.

import { expect, test } from "bun:test";
import { parseKmsgRecord, parseMessageContent, parseSyslogRecords, syslogResumeOffset, syslogTail, syslogToKmsg } from "./kmsg.ts";

const BTIME = 1640995200n;

test("usb record (acceptance 19)", () => {
  const r = parseKmsgRecord("6,1234,5678901234,-;usb 1-1: new high-speed USB device number 2 using xhci_hcd\n", BTIME);
  expect(r).toEqual({
    timestamp: "2022-01-01T01:34:38.901234Z",
    facility: 0,
    severity: 6,
    sequence_num: 1234n,
    message: "usb 1-1: new high-speed USB device number 2 using xhci_hcd",
    subsystem: "usb",
    device: "1-1",
  });
});

test("bracketed subsystem and kernel prefix", () => {
  const a = parseKmsgRecord("4,999,123456789,-;[drm:intel_dp_detect [i915]] DP-1: EDID checksum failed", BTIME);
  expect([a.severity, a.subsystem]).toEqual([4, "drm:intel_dp_detect [i915]"]);
  const b = parseKmsgRecord("0,100,50000000,-;kernel: Out of memory: Kill process 1234 (chrome) score 999", BTIME);
  expect([b.severity, b.subsystem, b.device]).toEqual([0, "kernel", ""]);
});

test("facility from prio; continuation lines dropped", () => {
  const r = parseKmsgRecord("30,7,1000,c;systemd[1]: started\n SUBSYSTEM=usb\n DEVICE=c189:1\n", 0n);
  expect([r.facility, r.severity, r.message]).toEqual([3, 6, "systemd[1]: started"]);
  expect(r.timestamp).toBe("1970-01-01T00:00:00.001Z");
});

test("malformed headers throw", () => {
  expect(() => parseKmsgRecord("6,1234,5678901234,- missing semicolon", BTIME)).toThrow();
  expect(() => parseKmsgRecord("6,1234;message", BTIME)).toThrow();
  expect(() => parseKmsgRecord("abc,1234,5678901234,-;test message", BTIME)).toThrow();
});

test("parseMessageContent without structure", () => {
  expect(parseMessageContent("Some random kernel message without clear structure")).toEqual({ subsystem: "", device: "" });
});

// ---- syslog(2) READ_ALL text ----

const SYSLOG = [
  "<6>[    0.000000] Linux version 6.18.44 (builder@host) #1 SMP",
  "<14>[ 5678.901234] usb 1-1: new high-speed USB device number 2 using xhci_hcd",
  "<4>[   12.000001][    T1] [drm:intel_dp_detect [i915]] DP-1: EDID checksum failed",
  "<3>[   13.500000] kernel: Out of memory: Killed process 1234 (chrome)",
  "  total-vm:123kB, anon-rss:45kB",
  "<30>systemd[1]: started without a timestamp",
  "<abc>[   14.000000] not a priority",
  "<4096>[   14.000000] priority too large",
  "",
  "<6>[   15.000000] last line without newline",
].join("\n");

test("syslog text: prio, time, caller id, continuation, no time; bad lines skipped and counted", () => {
  const { records, malformed } = parseSyslogRecords(SYSLOG);
  expect(malformed).toBe(2);
  expect(records.map((r) => [r.facility, r.severity, r.micros, r.message, r.subsystem, r.device])).toEqual([
    [0, 6, 0n, "Linux version 6.18.44 (builder@host) #1 SMP", "", ""],
    [1, 6, 5678901234n, "usb 1-1: new high-speed USB device number 2 using xhci_hcd", "usb", "1-1"],
    [0, 4, 12000001n, "[drm:intel_dp_detect [i915]] DP-1: EDID checksum failed", "drm:intel_dp_detect [i915]", ""],
    [0, 3, 13500000n, "kernel: Out of memory: Killed process 1234 (chrome)\n  total-vm:123kB, anon-rss:45kB", "kernel", ""],
    [3, 6, undefined, "systemd[1]: started without a timestamp", "systemd[1]", ""],
    [0, 6, 15000000n, "last line without newline", "", ""],
  ]);
  // Each record's end is just past its last line (continuation included).
  expect(SYSLOG.slice(0, records[3]!.end)).toEndWith("anon-rss:45kB\n");
  expect(records[5]!.end).toBe(SYSLOG.length);
});

test("syslog text: a leading continuation line (the ring cut a record) is malformed; empty text gives nothing", () => {
  expect(parseSyslogRecords(" cut off\n<6>[    1.000000] ok\n")).toMatchObject({
    malformed: 1,
    records: [{ message: "ok", micros: 1000000n }],
  });
  expect(parseSyslogRecords("")).toEqual({ records: [], malformed: 0 });
  // a continuation after a malformed line is not attached to the record before it
  const r = parseSyslogRecords("<6>[    1.000000] a\n<x>bad\n more\n");
  expect([r.records.map((x) => x.message), r.malformed]).toEqual([["a"], 2]);
});

test("syslogToKmsg: the same timestamp as the /dev/kmsg record, sequence 0; read time when the line has none", () => {
  const kmsg = parseKmsgRecord("6,1234,5678901234,-;usb 1-1: new high-speed USB device number 2 using xhci_hcd\n", BTIME);
  const { records } = parseSyslogRecords(SYSLOG);
  expect(syslogToKmsg(records[1]!, BTIME, 0n)).toEqual({ ...kmsg, facility: 1, sequence_num: 0n });
  expect(syslogToKmsg(records[4]!, BTIME, 1700000000123456n).timestamp).toBe("2023-11-14T22:13:20.123456Z");
});

test("follow-mode resume: after the last lines seen, across growth, wrap and a grown last line", () => {
  const enc = (s: string) => Buffer.from(s);
  const first = "<6>[    1.000000] a\n<6>[    2.000000] b\n<6>[    3.000000] c\n";
  const tail = syslogTail(first, first.length, 2);
  expect(tail).toBe("<6>[    2.000000] b\n<6>[    3.000000] c");
  // nothing new
  expect(syslogResumeOffset(enc(first), enc(tail))).toBe(first.length);
  // new records appended, and the oldest dropped (the ring moved but has not passed the tail)
  const grown = "<6>[    2.000000] b\n<6>[    3.000000] c\n<6>[    4.000000] d\n";
  expect(grown.slice(syslogResumeOffset(enc(grown), enc(tail)))).toBe("<6>[    4.000000] d\n");
  // the newest record was extended by a continued printk: the rest of that line is not new
  const extended = "<6>[    2.000000] b\n<6>[    3.000000] c more\n<6>[    4.000000] d\n";
  expect(extended.slice(syslogResumeOffset(enc(extended), enc(tail)))).toBe("<6>[    4.000000] d\n");
  // a record identical to the last one seen (same time and text) is still new
  const twice = first + "<6>[    3.000000] c\n";
  expect(twice.slice(syslogResumeOffset(enc(twice), enc(tail)))).toBe("<6>[    3.000000] c\n");
  // wrapped past the tail: not found
  expect(syslogResumeOffset(enc("<6>[    9.000000] z\n"), enc(tail))).toBe(-1);
  // a match that does not start a line does not count
  expect(syslogResumeOffset(enc("x" + tail + "\n"), enc(tail))).toBe(-1);
  // no tail yet: everything is new
  expect(syslogResumeOffset(enc(first), enc(""))).toBe(0);
  expect(syslogTail("<6>one\n", 7)).toBe("<6>one");
});
