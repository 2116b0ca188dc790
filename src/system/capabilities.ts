// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** Linux capability bit numbers the agent cares about. */

import { readFileSync } from "node:fs";

export const CAP = {
  CAP_SYS_ADMIN: 21,
  CAP_SYS_PTRACE: 19,
  CAP_DAC_READ_SEARCH: 2,
  CAP_SYSLOG: 34,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
} as const;
export type CapabilityName = keyof typeof CAP;

/** Parses the hex `CapEff:` line of a /proc/<pid>/status text into a bitmask. */
export function parseCapEff(statusText: string): bigint {
  const line = statusText.split("\n").find((l) => l.startsWith("CapEff:"));
  if (!line) throw new Error("CapEff line not found in status");
  const hex = line.slice("CapEff:".length).trim();
  if (!/^[0-9a-fA-F]+$/.test(hex)) throw new Error(`CapEff is not hex: ${JSON.stringify(hex)}`);
  return BigInt("0x" + hex);
}

export function hasCapability(mask: bigint, cap: CapabilityName): boolean {
  return ((mask >> BigInt(CAP[cap])) & 1n) === 1n;
}

/** Names of `required` capabilities missing from `mask`. */
export function missingCapabilities(mask: bigint, required: readonly CapabilityName[]): CapabilityName[] {
  return required.filter((c) => !hasCapability(mask, c));
}

/**
 * The effective capability set of this process, from /proc/self/status (the real one, not HOST_PROC).
 * Read in place (procfs answers from memory): an async read would start Bun's own I/O threads for
 * this one file, two threads that stay for the life of the process.
 */
export async function effectiveCapabilities(statusPath = "/proc/self/status"): Promise<bigint> {
  return parseCapEff(readFileSync(statusPath, "utf8"));
}
