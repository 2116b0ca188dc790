// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the oomkill record decoder: every field of struct oomkill_event (the victim's cgroup ids
// included) read back, a short record rejected as truncated, and the victim's cgroup path from /proc text.

import { expect, test } from "bun:test";
import { RecordError } from "./execsnoop-decode.ts";
import { encodeOomkillEvent, OOMKILL_EVENT_SIZE, type OomkillEvent } from "./gen/oomkill_types.ts";
import { cgroupPathOf, parseOomkillRecord } from "./oomkill.ts";

const EVENT: OomkillEvent = {
  tsNs: 123_456_789n,
  triggerCgroupId: 4_000_000_001n,
  totalVmKb: 1n << 40n,
  anonRssKb: 24_000n,
  fileRssKb: 12n,
  shmemRssKb: 0n,
  memcgId: 77n,
  victimPid: 4242,
  triggerPid: 4343,
  uid: 1000,
  oomScoreAdj: -999,
  comm: "tail",
  triggerComm: "bash",
  victimCgroupId: (1n << 63n) + 5n,
  victimMemcgId: 78n,
};

test("a whole record decodes to every field, the victim's cgroup ids as exact u64", () => {
  expect(OOMKILL_EVENT_SIZE).toBe(120);
  const buf = new DataView(new ArrayBuffer(OOMKILL_EVENT_SIZE + 8));
  encodeOomkillEvent(buf, EVENT, 8);
  expect(parseOomkillRecord(buf, 8, OOMKILL_EVENT_SIZE)).toEqual(EVENT);
});

test("a record shorter than struct oomkill_event (an object of the 104-byte layout, a cut record) is rejected as truncated", () => {
  const buf = new DataView(new ArrayBuffer(OOMKILL_EVENT_SIZE));
  encodeOomkillEvent(buf, EVENT);
  for (const len of [0, 8, 104, OOMKILL_EVENT_SIZE - 1]) {
    let err: unknown;
    try {
      parseOomkillRecord(buf, 0, len);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RecordError);
    expect((err as RecordError).reason).toBe("truncated");
    expect((err as Error).message).toBe(`oomkill record of ${len} bytes, expected ${OOMKILL_EVENT_SIZE}`);
  }
});

test("cgroupPathOf: the unified line unless it is the root, else the memory controller's", () => {
  expect(cgroupPathOf("0::/docker/abc\n")).toBe("/docker/abc");
  expect(cgroupPathOf("12:memory:/docker/abc\n0::/\n")).toBe("/docker/abc");
  expect(cgroupPathOf("4:cpu,memory:/k/x\n")).toBe("/k/x");
  expect(cgroupPathOf("")).toBe("");
});
