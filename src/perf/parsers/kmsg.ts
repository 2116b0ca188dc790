// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parsers for kernel log records: /dev/kmsg records and syslog(2) READ_ALL text (the fallback), with
// timestamps from boot time, subsystem/device heuristics, and where follow mode resumes.

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

// ---- syslog(2) text (SYSLOG_ACTION_READ_ALL), the fallback when /dev/kmsg cannot be opened ----

/** One record of the syslog(2) text. */
export interface SyslogRecord {
  /** `(facility << 3) | severity` as printed between `<` and `>`. */
  prio: number;
  facility: number;
  severity: number;
  /** Microseconds since boot from `[seconds.micros]`; undefined when printk timestamps are off. */
  micros: bigint | undefined;
  /** The text; continuation lines (lines without a `<prio>` prefix) are joined to it with "\n". */
  message: string;
  subsystem: string;
  device: string;
  /** Offset in the parsed text just past this record's last line (its newline included). */
  end: number;
}

const SYSLOG_LINE = /^<(\d{1,4})>/;
/** `[    5.123456]`: the kernel prints `[%5lu.%06lu]` followed by a space. */
const SYSLOG_TIME = /^\[\s*(\d{1,12})\.(\d{6})\]/;
/** `[  T123]` / `[C0]` (CONFIG_PRINTK_CALLER), after the time. */
const SYSLOG_CALLER = /^\[\s*[TC]\d+\]/;

/**
 * Parses syslog(2) READ_ALL text: `<prio>[ seconds.micros] message` lines (`<prio>message` when
 * printk timestamps are off, `[  T123]` caller ids dropped). A line without a `<prio>` prefix continues
 * the previous record's message. Skipped and counted as malformed: a `<...>` prefix that is not a
 * priority (not digits, or above 2047 = facility 255, severity 7) and a continuation line with no
 * record before it (the first line of the text). Empty lines are ignored.
 */
export function parseSyslogRecords(text: string): { records: SyslogRecord[]; malformed: number } {
  const records: SyslogRecord[] = [];
  let malformed = 0;
  let pos = 0;
  let last: SyslogRecord | undefined;
  while (pos < text.length) {
    let nl = text.indexOf("\n", pos);
    if (nl < 0) nl = text.length;
    const line = text.slice(pos, nl);
    const end = Math.min(nl + 1, text.length);
    pos = nl + 1;
    if (line === "") continue;
    if (!line.startsWith("<")) {
      if (last) {
        last.message += "\n" + line;
        last.end = end;
      } else malformed++;
      continue;
    }
    const m = SYSLOG_LINE.exec(line);
    const prio = m ? Number(m[1]) : NaN;
    if (!m || prio > 2047) {
      malformed++;
      last = undefined; // a continuation after a bad line is not attached to an earlier record
      continue;
    }
    let rest = line.slice(m[0].length);
    let micros: bigint | undefined;
    const t = SYSLOG_TIME.exec(rest);
    if (t) {
      micros = BigInt(t[1]!) * 1000000n + BigInt(t[2]!);
      rest = rest.slice(t[0].length);
      const c = SYSLOG_CALLER.exec(rest);
      if (c) rest = rest.slice(c[0].length);
      if (rest.startsWith(" ")) rest = rest.slice(1);
    }
    const { subsystem, device } = parseMessageContent(rest);
    last = { prio, facility: prio >> 3, severity: prio & 7, micros, message: rest, subsystem, device, end };
    records.push(last);
  }
  return { records, malformed };
}

/**
 * The KmsgRecord for a syslog(2) record. Timestamp = boot time + the bracketed time, as for /dev/kmsg
 * (both are the kernel's ts_nsec / 1000), or `readMicros` (epoch µs of the read) when the line has no
 * time. `sequence_num` is always 0: the syslog(2) text carries no sequence numbers, and a synthesized
 * count would look like the kernel's own.
 */
export function syslogToKmsg(r: SyslogRecord, bootTimeSec: bigint, readMicros: bigint): KmsgRecord {
  return {
    timestamp: formatMicros(r.micros !== undefined ? bootTimeSec * 1000000n + r.micros : readMicros),
    facility: r.facility,
    severity: r.severity,
    sequence_num: 0n,
    message: r.message,
    subsystem: r.subsystem,
    device: r.device,
  };
}

/** The last `n` lines of `text.slice(0, end)`, joined by "\n" without the final newline: what follow mode matches next time. */
export function syslogTail(text: string, end: number, n = 4): string {
  let stop = end;
  while (stop > 0 && text[stop - 1] === "\n") stop--;
  let start = stop;
  for (let k = 0; k < n && start > 0; k++) {
    const nl = text.lastIndexOf("\n", start - 1);
    start = Math.max(nl, 0);
    if (nl < 0) break;
  }
  if (text[start] === "\n") start++;
  return text.slice(start, stop);
}

/**
 * Where the lines not yet seen start in a new READ_ALL snapshot: the byte offset just past the line
 * that ends the last match of `tail` (see syslogTail) starting at a line start, or -1 when `tail` is not
 * in `data` (the ring wrapped past it, or was cleared). The tail's last line may have grown since (a
 * continued printk extends the newest record); the rest of that line is not new. An empty tail gives 0.
 */
export function syslogResumeOffset(data: Uint8Array, tail: Uint8Array): number {
  if (tail.byteLength === 0) return 0;
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let from = b.length;
  for (;;) {
    const i = b.lastIndexOf(tail, from);
    if (i < 0) return -1;
    if (i === 0 || b[i - 1] === 10) {
      const nl = b.indexOf(10, i + tail.byteLength);
      return nl < 0 ? b.length : nl + 1;
    }
    from = i - 1;
  }
}
