// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parsers for the kernel's table-size files: single-value sysctls (nf_conntrack_count/max,
// random/entropy_avail, random/poolsize), /proc/sys/fs/file-nr and /proc/net/stat/nf_conntrack.

import { fields, lines, parseU64 } from "./num.ts";

/** A file holding one unsigned integer ("262144\n"); throws naming the file when it holds anything else. */
export function parseSingleU64(text: string, file: string): bigint {
  const v = parseU64(text.trim());
  if (v === undefined) throw new Error(`${file}: expected one unsigned integer, got ${JSON.stringify(text.trim())}`);
  return v;
}

export interface FileNr {
  /** File handles allocated (first field). */
  allocated: bigint;
  /** Allocated but unused; always 0 since Linux 2.6 (second field). */
  unused: bigint;
  /** fs.file-max (third field). */
  maximum: bigint;
}

/** /proc/sys/fs/file-nr: "allocated unused maximum" (node_exporter's filefd collector). */
export function parseFileNr(text: string, file = "file-nr"): FileNr {
  const f = fields(text);
  if (f.length !== 3) throw new Error(`${file}: expected 3 fields, got ${f.length}: ${JSON.stringify(text.trim())}`);
  const [allocated, unused, maximum] = f.map((s) => parseU64(s));
  if (allocated === undefined || unused === undefined || maximum === undefined)
    throw new Error(`${file}: not unsigned integers: ${JSON.stringify(text.trim())}`);
  return { allocated, unused, maximum };
}

/** Sums over CPUs of the /proc/net/stat/nf_conntrack columns node_exporter serves. */
export interface ConntrackStat {
  found: bigint;
  invalid: bigint;
  ignore: bigint;
  insert: bigint;
  insert_failed: bigint;
  drop: bigint;
  early_drop: bigint;
  search_restart: bigint;
}

const CONNTRACK_STAT_COLUMNS = ["found", "invalid", "ignore", "insert", "insert_failed", "drop", "early_drop", "search_restart"] as const;

/**
 * /proc/net/stat/nf_conntrack: a header naming the columns, then one line of hex counters per CPU.
 * Columns are found by header name (kernels add and rename columns); a column the header lacks sums to 0.
 * A row with a different number of fields or a non-hex value throws naming the line.
 */
export function parseConntrackStat(text: string, file = "nf_conntrack"): ConntrackStat {
  const rows = lines(text);
  const header = fields(rows[0] ?? "");
  if (header.length === 0) throw new Error(`${file}: empty, expected a header line`);
  const sum: ConntrackStat = {
    found: 0n,
    invalid: 0n,
    ignore: 0n,
    insert: 0n,
    insert_failed: 0n,
    drop: 0n,
    early_drop: 0n,
    search_restart: 0n,
  };
  for (let i = 1; i < rows.length; i++) {
    const f = fields(rows[i]!);
    if (f.length === 0) continue;
    if (f.length !== header.length) throw new Error(`${file} line ${i + 1}: ${f.length} fields, the header names ${header.length}`);
    for (const col of CONNTRACK_STAT_COLUMNS) {
      const at = header.indexOf(col);
      if (at < 0) continue;
      const s = f[at]!;
      if (!/^[0-9a-fA-F]{1,16}$/.test(s)) throw new Error(`${file} line ${i + 1}: ${col} is not hex: ${JSON.stringify(s)}`);
      sum[col] += BigInt(`0x${s}`);
    }
  }
  return sum;
}
