// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Drops families without samples from rendered text: node_exporter serves a family only when the host
// has its data (no PSI, no nf_conntrack module, no hwmon chips), never a bare HELP/TYPE pair.

/** Text of one registry ("# HELP ..\n# TYPE ..\nsamples\n\n# HELP .."), without the families that have no sample lines. */
export function dropEmptyFamilies(text: string): string {
  const blocks = text.split("\n\n");
  const kept = blocks.filter((b) => b.split("\n").some((line) => line.length > 0 && !line.startsWith("#")));
  if (kept.length === blocks.length) return text;
  return kept.length ? `${kept.map((b) => b.replace(/\n+$/, "")).join("\n\n")}\n` : "";
}
