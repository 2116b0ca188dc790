// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parser for /proc/mdstat (Linux software RAID), the rules of prometheus/procfs's MDStat that node_exporter's
// mdadm collector serves as node_md_*.

import { fields } from "./num.ts";

export interface MDStat {
  /** md0, md127. */
  name: string;
  /** active, inactive, recovering, resyncing or checking. */
  activity_state: string;
  disks_active: number;
  disks_failed: number;
  disks_spare: number;
  disks_total: number;
  blocks_total: number;
  blocks_synced: number;
}

const STATUS_LINE = /(\d+) blocks .*\[(\d+)\/(\d+)\] \[([U_]+)\]/;
const RECOVERY_BLOCKS = /\((\d+)\/\d+\)/;

/**
 * Parses /proc/mdstat. Each array is a device line ("md0 : active raid1 sdb1[1] sda1[0]"), a status line
 * ("1953382464 blocks super 1.2 [2/2] [UU]"), an optional bitmap line and a sync line. Failed members
 * carry (F), spares (S). A device without its status lines, or lines of an unknown shape, throw naming the
 * device and line.
 */
export function parseMdstat(text: string, file = "mdstat"): MDStat[] {
  const out: MDStat[] = [];
  const rows = text.split("\n");
  for (let i = 0; i < rows.length; i++) {
    const line = rows[i]!;
    if (line.trim() === "" || line[0] === " " || line[0] === "\t" || line.startsWith("Personalities") || line.startsWith("unused"))
      continue;
    const dev = fields(line);
    if (dev.length < 3)
      throw new Error(`${file} line ${i + 1}: not enough fields in md device line (expected at least 3): ${JSON.stringify(line)}`);
    const name = dev[0]!;
    let state = dev[2]!;
    if (rows.length <= i + 3) throw new Error(`${file} line ${i + 1}: too few lines for md device ${name}`);
    const failed = line.split("(F)").length - 1;
    const spare = line.split("(S)").length - 1;
    const status = rows[i + 1]!;
    const { active, total, size } = statusOf(line, status, `${file} line ${i + 2}`);
    let syncIdx = i + 2;
    if (rows[syncIdx]!.includes("bitmap")) syncIdx++;
    const sync = rows[syncIdx] ?? "";
    let synced = size;
    const recovering = sync.includes("recovery");
    const resyncing = sync.includes("resync");
    const checking = sync.includes("check");
    if (recovering || resyncing || checking) {
      state = recovering ? "recovering" : checking ? "checking" : "resyncing";
      if (sync.includes("PENDING") || sync.includes("DELAYED")) synced = 0;
      else {
        const m = RECOVERY_BLOCKS.exec(sync);
        if (!m) throw new Error(`${file} line ${syncIdx + 1}: unexpected sync line of ${name}: ${JSON.stringify(sync.trim())}`);
        synced = Number(m[1]);
      }
    }
    out.push({
      name,
      activity_state: state,
      disks_active: active,
      disks_failed: failed,
      disks_spare: spare,
      disks_total: total,
      blocks_total: size,
      blocks_synced: synced,
    });
  }
  return out;
}

function statusOf(deviceLine: string, statusLine: string, where: string): { active: number; total: number; size: number } {
  const sizeText = fields(statusLine)[0] ?? "";
  if (!/^\d+$/.test(sizeText)) throw new Error(`${where}: unexpected status line ${JSON.stringify(statusLine.trim())}`);
  const size = Number(sizeText);
  if (deviceLine.includes("raid0") || deviceLine.includes("linear")) {
    // Only member disks carry a [n] on the device line of striped and linear arrays.
    const total = deviceLine.split("[").length - 1;
    return { active: total, total, size };
  }
  if (deviceLine.includes("inactive")) return { active: 0, total: 0, size };
  const m = STATUS_LINE.exec(statusLine);
  if (!m) throw new Error(`${where}: no [total/active] [U_] in status line ${JSON.stringify(statusLine.trim())}`);
  return { active: Number(m[3]), total: Number(m[2]), size };
}
