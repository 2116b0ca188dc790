// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parsers for the paired header/value lines of /proc/net/snmp and /proc/net/netstat: the Tcp section
// and every section as "Proto_Name" values.

import { fields, lines, parseU64 } from "./num.ts";

/** One protocol section of /proc/net/snmp or /proc/net/netstat: a header line and a value line. */
export interface ProtoSection {
  header: string[];
  values: string[];
}

/**
 * Parses the paired "Proto: names" / "Proto: values" format of /proc/net/snmp, /proc/net/snmp6-less
 * netstat and /proc/net/netstat. The first line of a prefix is the header, the second the values;
 * later repeats are ignored.
 */
export function parseProtoPairs(text: string): Map<string, ProtoSection> {
  const out = new Map<string, ProtoSection>();
  const pending = new Map<string, string[]>();
  for (const line of lines(text)) {
    const f = fields(line);
    if (f.length === 0 || !f[0]!.endsWith(":")) continue;
    const proto = f[0]!.slice(0, -1);
    if (out.has(proto)) continue;
    const head = pending.get(proto);
    if (head === undefined) pending.set(proto, f.slice(1));
    else out.set(proto, { header: head, values: f.slice(1) });
  }
  return out;
}

/**
 * Maps a section to name -> u64. Values that are not u64 (MaxConn -1, "ABC") are left out and counted.
 * Throws "<proto> header/value length mismatch: a != b" when the lines differ in length.
 */
export function sectionValues(proto: string, s: ProtoSection): { values: Map<string, bigint>; malformed: number } {
  if (s.header.length !== s.values.length)
    throw new Error(`${proto} header/value length mismatch: ${s.header.length} != ${s.values.length}`);
  const values = new Map<string, bigint>();
  let malformed = 0;
  for (let i = 0; i < s.header.length; i++) {
    const v = parseU64(s.values[i]);
    if (v === undefined) {
      if (!/^-\d+$/.test(s.values[i]!)) malformed++;
      continue;
    }
    values.set(s.header[i]!, v);
  }
  return { values, malformed };
}

/** /proc/net/snmp's Tcp section, with the original's errors. */
export function parseSnmpTcp(text: string | Map<string, ProtoSection>, path = "snmp"): { values: Map<string, bigint>; malformed: number } {
  const s = (typeof text === "string" ? parseProtoPairs(text) : text).get("Tcp");
  if (!s) throw new Error(`TCP statistics not found in ${path}`);
  return sectionValues("TCP", s);
}

/**
 * All sections of /proc/net/snmp or /proc/net/netstat as "Proto_Name" -> value (node_exporter's
 * netstat naming), skipping sections whose header and value lines differ in length.
 */
export function parseNetstatAll(text: string): { values: Map<string, bigint>; malformed: number } {
  return pairsToValues(parseProtoPairs(text));
}

/** parseNetstatAll over sections already split by parseProtoPairs. */
export function pairsToValues(pairs: Map<string, ProtoSection>): { values: Map<string, bigint>; malformed: number } {
  const values = new Map<string, bigint>();
  let malformed = 0;
  for (const [proto, s] of pairs) {
    if (s.header.length !== s.values.length) {
      malformed++;
      continue;
    }
    for (let i = 0; i < s.header.length; i++) {
      const v = parseU64(s.values[i]);
      if (v !== undefined) values.set(`${proto}_${s.header[i]}`, v);
    }
  }
  return { values, malformed };
}
