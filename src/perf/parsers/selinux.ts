// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// SELinux modes (pure, from text): /etc/selinux/config's SELINUX= line and selinuxfs's enforce file,
// as node_exporter's selinux collector reports them (-1 disabled, 0 permissive, 1 enforcing).

const MODES: Record<string, number> = { disabled: -1, permissive: 0, enforcing: 1 };

/** The mode configured in /etc/selinux/config (`SELINUX=enforcing`), or null when the file does not say. */
export function parseSelinuxConfigMode(text: string): number | null {
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line.startsWith("SELINUX=")) continue;
    const mode = MODES[line.slice("SELINUX=".length).trim().replace(/^"|"$/g, "").toLowerCase()];
    return mode ?? null;
  }
  return null;
}

/** The current mode from selinuxfs's `enforce` file ("1" enforcing, "0" permissive). */
export function parseSelinuxEnforce(text: string): number {
  const v = text.trim();
  if (v === "1") return 1;
  if (v === "0") return 0;
  throw new Error(`selinux enforce: unexpected value ${JSON.stringify(v)} (want 0 or 1)`);
}
