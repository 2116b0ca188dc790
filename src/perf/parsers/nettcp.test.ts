// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of TCP state counting over /proc/net/tcp and tcp6 (unknown states, short lines) and of
// the sockstat parser.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { countTcpStates, emptyStateCounts, parseSockstat } from "./nettcp.ts";

const TCP = readFileSync(new URL("../../../test/fixtures/perf/samples/tcp", import.meta.url), "utf8");
const TCP6 = readFileSync(new URL("../../../test/fixtures/perf/samples/tcp6", import.meta.url), "utf8");

test("states summed over tcp and tcp6 (acceptance 14)", () => {
  const s = emptyStateCounts();
  countTcpStates(TCP, s);
  countTcpStates(TCP6, s);
  expect(s).toEqual({
    ESTABLISHED: 3,
    SYN_SENT: 0,
    SYN_RECV: 0,
    FIN_WAIT1: 0,
    FIN_WAIT2: 0,
    TIME_WAIT: 1,
    CLOSE: 0,
    CLOSE_WAIT: 0,
    LAST_ACK: 0,
    LISTEN: 2,
    CLOSING: 0,
  });
});

test("unknown states (FF, ZZ, lowercase) and short lines ignored and counted", () => {
  const s = emptyStateCounts();
  const r = countTcpStates("header\n 0: a b FF\n 1: a b ZZ\n 2: a b 0a\n 3: a b\n 4: a b 01\n", s);
  expect(s.ESTABLISHED).toBe(1);
  expect(s.LISTEN).toBe(0);
  expect(r.malformed).toBe(4);
});

test("all 11 states once each; 1000 established; no trailing newline", () => {
  const s = emptyStateCounts();
  const codes = ["01", "02", "03", "04", "05", "06", "07", "08", "09", "0A", "0B"];
  countTcpStates("h\n" + codes.map((c, i) => ` ${i}: x y ${c}`).join("\n"), s);
  expect(Object.values(s)).toEqual(Array(11).fill(1));
  const many = emptyStateCounts();
  countTcpStates("h\n" + Array.from({ length: 1000 }, (_, i) => ` ${i}: x y 01 z`).join("\n") + "\n", many);
  expect(many.ESTABLISHED).toBe(1000);
});

test("sockstat", () => {
  const v = parseSockstat("sockets: used 11\nTCP: inuse 1 orphan 0 tw 2 alloc 1 mem 149\nTCP6: inuse 3\nbad line\n");
  expect(v.values.get("TCP_tw")).toBe(2n);
  expect(v.values.get("sockets_used")).toBe(11n);
  expect(v.values.get("TCP6_inuse")).toBe(3n);
  expect(v.malformed).toBe(1);
});
