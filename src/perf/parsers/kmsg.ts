// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

export interface KmsgRecord {
  /** RFC 3339 with microseconds, UTC (boot time + the record's microseconds since boot). */
  timestamp: string;
  facility: number;
  severity: number;
  sequence_num: bigint;
  message: string;
  subsystem: string;
  device: string;
}

/** The message's subsystem and device by the original's heuristic. */
export function parseMessageContent(msg: string): { subsystem: string; device: string } {
  if (msg.startsWith("[")) {
    const last = msg.lastIndexOf("]");
    if (last > 1) return { subsystem: msg.slice(1, last), device: "" };
  }
  const colon = msg.indexOf(":");
  if (colon > 0 && colon < 50) {
    const prefix = msg.slice(0, colon).trim();
    const words = prefix.split(/\s+/).filter(Boolean);
    if (words.length === 2) return { subsystem: words[0]!, device: words[1]! };
    if (!/\s/.test(prefix) && prefix.length < 20) return { subsystem: prefix, device: "" };
  }
  return { subsystem: "", device: "" };
}

/** Formats epoch microseconds as RFC 3339 with trailing zeros of the fraction trimmed (Go RFC3339Nano). */
export function formatMicros(us: bigint): string {
  const ms = us / 1000n;
  const sub = Number(us % 1000n);
  const iso = new Date(Number(ms)).toISOString(); // yyyy-mm-ddThh:mm:ss.mmmZ
  let frac = iso.slice(20, 23) + String(sub).padStart(3, "0");
  frac = frac.replace(/0+$/, "");
  return iso.slice(0, 19) + (frac ? "." + frac : "") + "Z";
}

/**
 * Parses one /dev/kmsg record "<prio>,<seq>,<usec>,<flags>[,...];<message>\n[ KEY=value\n...]".
 * `bootTimeSec` is btime from /proc/stat. Continuation lines (" KEY=value" device properties) are
 * dropped from the message. Throws on a malformed header.
 */
export function parseKmsgRecord(record: string, bootTimeSec: bigint): KmsgRecord {
  const semi = record.indexOf(";");
  if (semi < 0) throw new Error("invalid kmsg format: missing ';'");
  const header = record.slice(0, semi).split(",");
  if (header.length < 3) throw new Error(`invalid kmsg header: ${header.length} fields, need at least 3`);
  if (!/^\d{1,3}$/.test(header[0]!) || Number(header[0]) > 255) throw new Error(`invalid priority ${JSON.stringify(header[0])}`);
  if (!/^\d{1,20}$/.test(header[1]!)) throw new Error(`invalid sequence number ${JSON.stringify(header[1])}`);
  if (!/^-?\d{1,19}$/.test(header[2]!)) throw new Error(`invalid timestamp ${JSON.stringify(header[2])}`);
  const prio = Number(header[0]);
  let message = record.slice(semi + 1);
  const nl = message.indexOf("\n");
  if (nl >= 0) message = message.slice(0, nl);
  const { subsystem, device } = parseMessageContent(message);
  return {
    timestamp: formatMicros(bootTimeSec * 1000000n + BigInt(header[2]!)),
    facility: prio >> 3,
    severity: prio & 7,
    sequence_num: BigInt(header[1]!),
    message,
    subsystem,
    device,
  };
}
