// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parser for /proc/net/snmp6: one "Ip6InReceives   450" name/value pair per line, split into
// node_exporter's "Proto6_Field" keys (the protocol is the name up to and including its first "6").

import { fields, lines, parseU64 } from "./num.ts";

/**
 * Parses /proc/net/snmp6 into "Ip6_InReceives" -> value. Lines whose name has no "6" are skipped, as
 * node_exporter does; lines without a value or with a value that is not a u64 are counted as malformed.
 */
export function parseSnmp6(text: string): { values: Map<string, bigint>; malformed: number } {
  const values = new Map<string, bigint>();
  let malformed = 0;
  for (const line of lines(text)) {
    const f = fields(line);
    if (f.length === 0) continue;
    const name = f[0]!;
    const six = name.indexOf("6");
    if (six < 0 || six === name.length - 1) continue;
    const v = parseU64(f[1]);
    if (f.length !== 2 || v === undefined) {
      malformed++;
      continue;
    }
    values.set(`${name.slice(0, six + 1)}_${name.slice(six + 1)}`, v);
  }
  return { values, malformed };
}
