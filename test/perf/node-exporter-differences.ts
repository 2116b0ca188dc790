// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The one list of node_exporter families the agent deliberately does not serve, each with its reason.
// test/perf/node-exporter-parity.test.ts exempts exactly these and checks that docs/metrics.md shows
// this table verbatim (between the parity-differences markers), so the two cannot drift.

export interface ParityDifference {
  /** An exact family name, or a prefix ending in `*`. */
  families: string;
  kind: "by design" | "not ported yet";
  reason: string;
}

export const NODE_EXPORTER_DIFFERENCES: readonly ParityDifference[] = [
  {
    families: "go_*",
    kind: "by design",
    reason:
      "Go runtime statistics of node_exporter's own process. The agent runs on Bun: its runtime is in `antimetal_js_heap_used_bytes` and `antimetal_event_loop_lag_seconds`.",
  },
  {
    families: "promhttp_metric_handler_*",
    kind: "by design",
    reason:
      "request counters of the Go client library's HTTP handler. The agent serves every scrape from one cached body; its own health is in the `antimetal_*` self metrics.",
  },
  {
    families: "node_exporter_build_info",
    kind: "by design",
    reason: "node_exporter's version. The agent's version is `antimetal_build_info`.",
  },
  {
    families: "node_textfile_*",
    kind: "by design",
    reason:
      "the textfile collector is off unless `--textfile-directory` names a directory (Debian's package points node_exporter at /var/lib/prometheus/node-exporter); with one, `node_textfile_scrape_error` and `node_textfile_mtime_seconds` are served as node_exporter serves them.",
  },
  {
    families: "node_systemd_*",
    kind: "by design",
    reason:
      "the systemd collector asks systemd over D-Bus and is off by default in upstream node_exporter (Debian's package turns it on). The agent does not connect to D-Bus.",
  },
  ...[
    "node_bcache_*",
    "node_btrfs_*",
    "node_fibrechannel_*",
    "node_infiniband_*",
    "node_ipvs_*",
    "node_nfs_*",
    "node_nfsd_*",
    "node_nvme_*",
    "node_rapl_*",
    "node_tape_*",
    "node_xfs_*",
    "node_zfs_*",
  ].map(
    (families): ParityDifference => ({
      families,
      kind: "not ported yet",
      reason: "hardware, driver or filesystem specific collector with no series on the hosts this is tested on.",
    }),
  ),
];

/** True when the entry covers the family name. */
export function differenceCovers(d: ParityDifference, family: string): boolean {
  return d.families.endsWith("*") ? family.startsWith(d.families.slice(0, -1)) : family === d.families;
}

export const DOC_TABLE_START = "<!-- parity-differences:start (generated from test/perf/node-exporter-differences.ts) -->";
export const DOC_TABLE_END = "<!-- parity-differences:end -->";

/** The Markdown table docs/metrics.md shows between DOC_TABLE_START and DOC_TABLE_END. */
export function renderDifferencesTable(): string {
  const rows = NODE_EXPORTER_DIFFERENCES.map((d) => `| \`${d.families}\` | ${d.kind} | ${d.reason} |`);
  return [DOC_TABLE_START, "| node_exporter families | difference | reason |", "|---|---|---|", ...rows, DOC_TABLE_END].join("\n");
}
