// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parser for a udev database entry (/run/udev/data/b<major>:<minor>): its "E:KEY=VALUE" property lines,
// which node_exporter's diskstats collector reads for node_disk_info's path, wwn, model, serial, revision.

import { lines } from "./num.ts";

/** The E: (environment property) lines of a udev data file; other record types (S:, L:, W:, I:, G:) are ignored. */
export function parseUdevData(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines(text)) {
    if (!line.startsWith("E:")) continue;
    const eq = line.indexOf("=");
    if (eq < 0) continue; // a property without a value: nothing node_exporter would use
    out.set(line.slice(2, eq), line.slice(eq + 1));
  }
  return out;
}

/** node_disk_info's udev-derived labels; serial falls back to SCSI_IDENT_SERIAL as node_exporter does. */
export function diskInfoLabels(udev: Map<string, string> | undefined): {
  path: string;
  wwn: string;
  model: string;
  serial: string;
  revision: string;
} {
  const get = (k: string) => udev?.get(k) ?? "";
  return {
    model: get("ID_MODEL"),
    path: get("ID_PATH"),
    revision: get("ID_REVISION"),
    serial: get("ID_SERIAL_SHORT") || get("SCSI_IDENT_SERIAL"),
    wwn: get("ID_WWN"),
  };
}
