// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parsers for the sysfs class and device files behind node_thermal_zone_*, node_cooling_device_*,
// node_bonding_* and node_edac_*: numbered directory names, signed and unsigned single values, and
// word lists (bonding_masters, bonding/slaves).

import { fields, parseI64, parseU64 } from "./num.ts";

/** The number after `prefix` in a directory name ("thermal_zone3" -> "3"), or undefined for other names. */
export function numberedName(prefix: string, name: string): string | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  return /^[0-9]+$/.test(rest) ? rest : undefined;
}

/** A signed integer attribute (temp in millidegrees can be negative); throws naming the file. */
export function parseSysfsI64(text: string, file: string): bigint {
  const v = parseI64(text.trim());
  if (v === undefined) throw new Error(`${file}: expected an integer, got ${JSON.stringify(text.trim())}`);
  return v;
}

/** An unsigned integer attribute (ce_count, max_state); throws naming the file. */
export function parseSysfsUnsigned(text: string, file: string): bigint {
  const v = parseU64(text.trim());
  if (v === undefined) throw new Error(`${file}: expected an unsigned integer, got ${JSON.stringify(text.trim())}`);
  return v;
}

/** A one-line text attribute without its trailing newline (type, mii_status). */
export function parseSysfsString(text: string): string {
  return text.trim();
}

/** A whitespace-separated list attribute (bonding_masters, bonding/slaves). */
export function parseSysfsWords(text: string): string[] {
  return fields(text);
}
