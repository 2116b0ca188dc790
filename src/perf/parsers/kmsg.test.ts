// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import { expect, test } from "bun:test";
import { parseKmsgRecord, parseMessageContent } from "./kmsg.ts";

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
