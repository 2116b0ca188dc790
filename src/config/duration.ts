// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Go-style durations ("10m", "1h30m", "500ms") parsed into milliseconds and formatted back.

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a Go-style duration ("10m", "1h30m", "500ms", "2.5s") into milliseconds. A bare "0" is
 * zero. Anything else throws with the reason.
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === "0") return 0;
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s)) {
    throw new Error(`invalid duration ${JSON.stringify(text)} (use a number with a unit: 500ms, 10s, 5m, 1h30m)`);
  }
  let total = 0;
  for (const [, num, , unit] of s.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(num) * UNIT_MS[unit!]!;
  return total;
}

/** Formats milliseconds back into the shortest Go-style text ("10m0s" is printed as "10m"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (rest >= size) {
      const n = Math.floor(rest / size);
      parts.push(`${n}${unit}`);
      rest -= n * size;
    }
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join("");
}
