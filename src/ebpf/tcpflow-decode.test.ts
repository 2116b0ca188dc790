// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** Unit tests of the tcpflow record decoder: address text, direction/flags, duration, malformed records. */

import { describe, expect, test } from "bun:test";
import { RecordError } from "./execsnoop-decode.ts";
import { decodeTcpflowEvent, encodeTcpflowEvent, TCPFLOW_EVENT_SIZE, type TcpflowEvent } from "./gen/tcpflow_types.ts";
import { formatAddr, parseFlowRecord } from "./tcpflow-decode.ts";

function addr(...bytes: number[]): Uint8Array {
  const a = new Uint8Array(16);
  a.set(bytes);
  return a;
}

function record(over: Partial<TcpflowEvent>): DataView {
  const view = new DataView(new ArrayBuffer(TCPFLOW_EVENT_SIZE));
  encodeTcpflowEvent(view, {
    tsNs: 5_000n,
    startNs: 1_000n,
    cgroupId: 77n,
    bytesSent: 11n,
    bytesReceived: 22n,
    pid: 42,
    netns: 4026531840,
    family: 2,
    sport: 40000,
    dport: 80,
    kind: 3,
    flags: 1 | 4,
    saddr: addr(10, 0, 0, 1),
    daddr: addr(10, 0, 0, 2),
    comm: "curl",
    ...over,
  });
  return view;
}

describe("tcpflow record decoder", () => {
  test("an IPv4 close: addresses, ports, bytes, duration, direction", () => {
    const f = parseFlowRecord(record({}), 0, TCPFLOW_EVENT_SIZE);
    expect(f).toMatchObject({
      kind: "close",
      pid: 42,
      comm: "curl",
      cgroupId: 77n,
      family: 4,
      saddr: "10.0.0.1",
      daddr: "10.0.0.2",
      sport: 40000,
      dport: 80,
      direction: "outbound",
      failed: false,
      identKnown: true,
      bytesSent: 11n,
      bytesReceived: 22n,
      durationNs: 4_000n,
    });
  });

  test("an accept is inbound and has no duration; a failed connect is flagged", () => {
    expect(parseFlowRecord(record({ kind: 2, flags: 4 }), 0, TCPFLOW_EVENT_SIZE)).toMatchObject({
      kind: "accept",
      direction: "inbound",
      durationNs: 0n,
    });
    expect(parseFlowRecord(record({ flags: 1 | 2 }), 0, TCPFLOW_EVENT_SIZE)).toMatchObject({ failed: true, identKnown: false });
  });

  test("IPv6 text follows RFC 5952; IPv4-mapped addresses are IPv4", () => {
    const v6 = record({
      family: 10,
      saddr: addr(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
      daddr: addr(...new Array(15).fill(0), 1),
    });
    expect(parseFlowRecord(v6, 0, TCPFLOW_EVENT_SIZE)).toMatchObject({ family: 6, saddr: "2001:db8::1", daddr: "::1" });
    const mapped = record({
      family: 10,
      saddr: addr(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 2),
      daddr: addr(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3),
    });
    expect(parseFlowRecord(mapped, 0, TCPFLOW_EVENT_SIZE)).toMatchObject({ family: 4, saddr: "192.168.1.2", daddr: "10.1.2.3" });
    expect(formatAddr(6, addr(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2))).toBe("fe80::1:0:0:2");
    expect(formatAddr(6, addr(0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0))).toBe("1:0:1:0:1:0:1:0");
  });

  test("records read in place at an offset of a shared buffer agree with the generated decoder", () => {
    const stride = TCPFLOW_EVENT_SIZE + 8;
    const view = new DataView(new ArrayBuffer(stride * 64));
    for (let i = 0; i < 64; i++) {
      const v6 = i % 2 === 1;
      encodeTcpflowEvent(
        view,
        {
          tsNs: 10n ** 12n + BigInt(i),
          startNs: 10n ** 12n,
          cgroupId: BigInt(i) << 40n,
          bytesSent: BigInt(i) * 3n,
          bytesReceived: 2n ** 63n + BigInt(i),
          pid: 4_000_000 + i,
          netns: 4026531840 + i,
          family: v6 ? 10 : 2,
          sport: 65535 - i,
          dport: i,
          kind: 1 + (i % 3),
          flags: i % 8,
          saddr: v6 ? addr(0xfd, 0, i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i) : addr(10, i, 255, 1),
          daddr: v6 ? addr(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, i) : addr(192, 0, 2, i),
          comm: i === 5 ? "größe-über" : `proc-${i}`.repeat(i % 4),
        },
        i * stride,
      );
    }
    for (let i = 0; i < 64; i++) {
      const f = parseFlowRecord(view, i * stride, TCPFLOW_EVENT_SIZE);
      const e = decodeTcpflowEvent(view, i * stride);
      const af = e.family === 2 ? 4 : 6;
      expect(f).toMatchObject({
        tsNs: e.tsNs,
        startNs: e.startNs,
        cgroupId: e.cgroupId,
        bytesSent: e.bytesSent,
        bytesReceived: e.bytesReceived,
        pid: e.pid,
        netns: e.netns,
        sport: e.sport,
        dport: e.dport,
        comm: e.comm,
        saddr: formatAddr(af, e.saddr),
        daddr: formatAddr(af, e.daddr),
      });
    }
    expect(parseFlowRecord(view, 5 * stride, TCPFLOW_EVENT_SIZE).comm).toBe("größe-über");
  });

  test("short, unknown-kind and unknown-family records are rejected with a reason", () => {
    const reason = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e instanceof RecordError ? e.reason : "other";
      }
      return "none";
    };
    expect(reason(() => parseFlowRecord(record({}), 0, TCPFLOW_EVENT_SIZE - 1))).toBe("truncated");
    expect(reason(() => parseFlowRecord(record({ kind: 9 }), 0, TCPFLOW_EVENT_SIZE))).toBe("invalid");
    expect(reason(() => parseFlowRecord(record({ family: 1 }), 0, TCPFLOW_EVENT_SIZE))).toBe("invalid");
  });
});
