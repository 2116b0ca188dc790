// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** A Linux kernel release such as 6.1.0 (the suffix after the first '-' is kept in `raw` only). */

export interface KernelVersion {
  raw: string;
  major: number;
  minor: number;
  patch: number;
}

/** Parses `uname -r` style text as the original agent does: "5.15.0-generic" -> 5.15.0, "5.10.0rc1" -> 5.10.0. */
export function parseKernelVersion(text: string): KernelVersion {
  const raw = text.trim();
  const core = raw.split("-", 1)[0]!;
  const parts = core.split(".");
  if (parts.length < 2) throw new Error(`invalid kernel version ${JSON.stringify(raw)}: need at least major.minor`);
  const major = strictInt(parts[0]!);
  const minor = strictInt(parts[1]!);
  if (major === undefined || minor === undefined)
    throw new Error(`invalid kernel version ${JSON.stringify(raw)}: major and minor must be integers`);
  const patch = parts[2] !== undefined ? (strictInt(parts[2]) ?? 0) : 0;
  return { raw, major, minor, patch };
}

function strictInt(s: string): number | undefined {
  return /^\d+$/.test(s) ? Number(s) : undefined;
}

/** Compares major.minor only, like the original's IsAtLeast. */
export function kernelAtLeast(v: KernelVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/** Three-way comparison over major, minor, patch. */
export function compareKernel(a: KernelVersion, b: KernelVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** Field 3 of /proc/version ("Linux version 6.1.0-13-amd64 ..."). */
export function kernelVersionFromProcVersion(text: string): KernelVersion {
  const field = text.trim().split(/\s+/)[2];
  if (!field) throw new Error("invalid /proc/version: fewer than 3 fields");
  return parseKernelVersion(field);
}
