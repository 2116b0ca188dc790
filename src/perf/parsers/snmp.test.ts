// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the /proc/net/snmp and netstat parsers: the Tcp section, the original's errors,
// garbage values, Proto_Field naming and the live files.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parseNetstatAll, parseProtoPairs, parseSnmpTcp, sectionValues } from "./snmp.ts";

const SNMP = readFileSync(new URL("../../../test/fixtures/perf/samples/snmp", import.meta.url), "utf8");
const NETSTAT = readFileSync(new URL("../../../test/fixtures/perf/samples/netstat", import.meta.url), "utf8");

test("Tcp section (acceptance 14); MaxConn -1 left out without counting it malformed", () => {
  const r = parseSnmpTcp(SNMP);
  expect(Object.fromEntries(r.values)).toMatchObject({
    ActiveOpens: 100n,
    PassiveOpens: 200n,
    AttemptFails: 10n,
    EstabResets: 5n,
    CurrEstab: 8n,
    InSegs: 50000n,
    OutSegs: 40000n,
    RetransSegs: 500n,
    InErrs: 2n,
    OutRsts: 15n,
    InCsumErrors: 3n,
  });
  expect(r.values.has("MaxConn")).toBe(false);
  expect(r.malformed).toBe(0);
});

test("errors and edges (acceptance 15)", () => {
  expect(() => parseSnmpTcp("Tcp: A B C D E\nTcp: 1 2 3 4 5 6 7 8 9\n")).toThrow("header/value length mismatch: 5 != 9");
  expect(() => parseSnmpTcp("")).toThrow("TCP statistics not found");
  expect(() => parseSnmpTcp("Ip: A\nIp: 1\n")).toThrow("TCP statistics not found");
  const r = parseSnmpTcp("Tcp: ActiveOpens PassiveOpens\nTcp: ABC 200\n");
  expect(r.values.has("ActiveOpens")).toBe(false);
  expect(r.values.get("PassiveOpens")).toBe(200n);
  expect(r.malformed).toBe(1);
  expect(parseSnmpTcp("Tcp: ActiveOpens\nTcp: 18446744073709551615\n").values.get("ActiveOpens")).toBe(18446744073709551615n);
});

test("TcpExt with garbage values does not throw", () => {
  const s = parseProtoPairs("TcpExt: Field1 Field2\nTcpExt: NotANumber 456\n").get("TcpExt")!;
  expect(sectionValues("TcpExt", s).values.get("Field2")).toBe(456n);
});

test("parseNetstatAll names Proto_Field and keeps u64 exact", () => {
  const v = parseNetstatAll(NETSTAT).values;
  expect(v.get("TcpExt_ListenDrops")).toBe(15n);
  expect(v.get("IpExt_InOctets")).toBe(18446744073709551615n);
  expect(parseNetstatAll(SNMP).values.get("Udp_OutDatagrams")).toBe(12n);
});

test("live /proc/net/snmp and netstat parse", () => {
  expect(parseSnmpTcp(readFileSync("/proc/net/snmp", "utf8")).values.has("CurrEstab")).toBe(true);
  expect(parseNetstatAll(readFileSync("/proc/net/netstat", "utf8")).values.has("TcpExt_ListenDrops")).toBe(true);
});
