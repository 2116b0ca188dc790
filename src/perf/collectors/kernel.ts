// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// kernel collector: kernel log records from /dev/kmsg (point or follow mode), falling back to syslog(2)
// when the device cannot be opened, as in a Kubernetes pod.

import * as fs from "node:fs";
import { Counter } from "prom-client";
import { registry } from "../../metrics/registry.ts";
import { errorMessage } from "../../util/errors.ts";
import type { ContinuousCollector, HostPaths, MetricEvent, PointCollector } from "../collector.ts";
import { errCode } from "../io.ts";
import { KlogError, klogProbe, klogReadAll, klogSize } from "../klog.ts";
import { type KmsgRecord, parseKmsgRecord, parseSyslogRecords, syslogResumeOffset, syslogTail, syslogToKmsg } from "../parsers/kmsg.ts";
import { parseStat } from "../parsers/stat.ts";
import { BaseCollector, type CollectorOptions, spec } from "./common.ts";

const READ_BUF = 8192;
/** Records drained per poll in follow mode; the rest wait for the next poll (the kernel keeps them). */
const MAX_PER_POLL = 2000;
/**
 * Follow-mode poll period. /dev/kmsg has no inotify and a blocking read would pin an I/O thread, so the
 * non-blocking fd is drained periodically; each empty poll costs an EAGAIN. The original slept 100 ms;
 * at 100 ms that alone was ~3 ms of CPU per second here, so the default is 1 s (kmsgPollMs).
 */
const POLL_MS = 1000;
/** Open errors of <dev>/kmsg after which the collector reads the log through syslog(2) instead. */
const FALLBACK_CODES = new Set(["EPERM", "EACCES", "ENOENT"]);
/** Lines of the previous syslog(2) read that follow mode looks for in the next one. */
const TAIL_LINES = 4;

export const kernelLogGaps = new Counter({
  name: "antimetal_kernel_log_gaps_total",
  help: "Kernel collector follow mode reading through syslog(2): polls where the last record seen was no longer in the ring (it wrapped or was cleared), so records may have been missed.",
  registers: [registry],
});

function syslogReason(path: string, openCode: string, klogCode: string): string {
  const denied = klogCode === "EPERM" || klogCode === "EACCES";
  return `cannot open ${path} (${openCode}) and syslog(2) ${denied ? "denied" : "failed"} (${klogCode})${klogCode === "EPERM" ? ": needs CAP_SYSLOG" : ""}`;
}

/**
 * How the kernel collector would read the kernel log here: "kmsg" (<dev>/kmsg opens), "syslog" (it
 * cannot be opened with EPERM, EACCES or ENOENT, as in a pod whose device cgroup refuses it, but
 * syslog(2) reads work), or otherwise why it cannot ("cannot open /dev/kmsg (EPERM) and syslog(2)
 * denied (EPERM): needs CAP_SYSLOG"). Costs an open and close, plus one system call on the fallback.
 */
export function kmsgAccess(paths: Pick<HostPaths, "dev">): string {
  const path = `${paths.dev}/kmsg`;
  let code: string;
  try {
    fs.closeSync(fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK));
    return "kmsg";
  } catch (e) {
    code = errCode(e) ?? "error";
    if (!FALLBACK_CODES.has(code)) return `cannot open ${path}: ${errorMessage(e)}`;
  }
  const k = klogProbe();
  return k === true ? "syslog" : syslogReason(path, code, k);
}

/** Start of the `n` lines before byte `end` of `data` (only lines starting with "<" count when `records`). */
function linesBefore(data: Uint8Array, end: number, n: number, records: boolean): number {
  let start = end;
  let count = 0;
  while (start > 0 && count < n) {
    let j = start - 1;
    if (data[j] === 10) j--;
    start = j < 0 ? 0 : data.lastIndexOf(10, j) + 1;
    if (!records || data[start] === 60) count++;
  }
  return start;
}

/**
 * /dev/kmsg records. Point mode: everything currently in the buffer, keeping the last `kmsgLimit` (50);
 * permission denied gives an empty list. Follow mode (`start`): emits the existing records once (HEAD's
 * initial dump), then new ones as they arrive, polling the non-blocking fd every second (kmsgPollMs).
 *
 * When <dev>/kmsg cannot be opened (EPERM/EACCES/ENOENT: a device cgroup that refuses it, as in a
 * Kubernetes pod, or no such device), the log is read through syslog(2) READ_ALL instead (src/perf/klog.ts),
 * which needs no device: point mode parses the last `kmsgLimit` records of the ring; follow mode reads
 * the ring on the same poll period and emits the records after the last lines it saw (see
 * syslogResumeOffset), counting antimetal_kernel_log_gaps_total when those lines are gone. Records read
 * this way have sequence_num 0 (the text has none). The source is chosen on first use and kept.
 */
export class KernelCollector extends BaseCollector implements PointCollector, ContinuousCollector {
  readonly spec = spec("kernel", "Kernel Message Collector", true, true, "3.5.0", ["CAP_SYSLOG"]);
  private timer: ReturnType<typeof setInterval> | undefined;
  private followFd: number | undefined;
  private readonly limit: number;
  private readonly buf = Buffer.allocUnsafe(READ_BUF);
  private readonly pollMs: number;
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc", "dev"]);
    this.limit = opts.kmsgLimit && opts.kmsgLimit > 0 ? opts.kmsgLimit : 50;
    this.pollMs = opts.kmsgPollMs && opts.kmsgPollMs > 0 ? opts.kmsgPollMs : POLL_MS;
  }

  private async bootTime(signal: AbortSignal): Promise<bigint> {
    let text: string;
    try {
      text = await this.io.read(`${this.paths.proc}/stat`, signal);
    } catch (e) {
      throw new Error(`failed to get boot time: ${errorMessage(e)}`);
    }
    const b = parseStat(text).btime;
    if (b === undefined) throw new Error(`failed to get boot time: btime not found in ${this.paths.proc}/stat`);
    return b;
  }

  /** The non-blocking fd, or the errno name when the syslog(2) fallback applies. */
  private open(): number | string {
    try {
      return fs.openSync(`${this.paths.dev}/kmsg`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (e) {
      const code = errCode(e) ?? "";
      if (FALLBACK_CODES.has(code)) return code;
      throw new Error(`failed to open ${this.paths.dev}/kmsg: ${errorMessage(e)}`);
    }
  }

  /** The whole ring as syslog(2) text (a view of a buffer reused across reads). Throws KlogError. */
  private readKlog(): Buffer {
    if (!this.klogBuf) {
      // The text adds a "<6>[    1.000000] " prefix per line to what the ring stores: room for twice its size.
      const size = klogSize();
      this.klogBuf = Buffer.alloc(Math.min(Math.max(size, 4096) * 2, 32 << 20));
    }
    return this.klogBuf.subarray(0, klogReadAll(this.klogBuf));
  }
  private klogBuf: Buffer | undefined;
  /** Errno name of the failed <dev>/kmsg open once the collector reads through syslog(2). */
  private syslogCode: string | undefined;
  private deniedLogged = false;

  private syslogError(e: unknown): Error {
    if (!(e instanceof KlogError)) return e as Error;
    return new Error(syslogReason(`${this.paths.dev}/kmsg`, this.syslogCode ?? "", e.code));
  }

  private collectSyslog(btime: bigint): KmsgRecord[] {
    let data: Buffer;
    try {
      data = this.readKlog();
    } catch (e) {
      if (e instanceof KlogError && (e.code === "EPERM" || e.code === "EACCES")) {
        // As for /dev/kmsg: permission denied gives an empty list (the registry reports it unavailable).
        if (!this.deniedLogged) this.opts.logger?.warn({ reason: this.syslogError(e).message }, "kernel log not readable");
        this.deniedLogged = true;
        return [];
      }
      throw this.syslogError(e);
    }
    const start = linesBefore(data, data.length, this.limit, true);
    const { records, malformed } = parseSyslogRecords(data.toString("utf8", start));
    this.malformed(malformed);
    const readMicros = BigInt(this.now()) * 1000n;
    return records.slice(-this.limit).map((r) => syslogToKmsg(r, btime, readMicros));
  }

  /** Follow mode through syslog(2): polls READ_ALL and emits what follows the previous read's last lines. */
  private startSyslog(btime: bigint, send: (r: KmsgRecord) => void): void {
    try {
      this.readKlog();
    } catch (e) {
      throw this.syslogError(e);
    }
    let tail: Buffer = Buffer.alloc(0);
    let lastMicros: bigint | undefined;
    const poll = () => {
      if (!this.syslogFollowing) return;
      try {
        const data = this.readKlog();
        let off = syslogResumeOffset(data, tail);
        let after: bigint | undefined;
        if (off < 0) {
          // The lines last seen are gone: the ring wrapped past them (or was cleared). Emit what is newer.
          kernelLogGaps.inc();
          off = 0;
          after = lastMicros;
        }
        const ctx = linesBefore(data, off, TAIL_LINES, false);
        const prefix = data.toString("utf8", ctx, off);
        const text = data.toString("utf8", off);
        const { records, malformed } = parseSyslogRecords(text);
        this.malformed(malformed);
        const readMicros = BigInt(this.now()) * 1000n;
        let end = -1;
        let n = 0;
        for (const r of records) {
          if (n >= MAX_PER_POLL) break;
          end = r.end;
          if (after !== undefined && r.micros !== undefined && r.micros <= after) continue;
          send(syslogToKmsg(r, btime, readMicros));
          n++;
          if (r.micros !== undefined) lastMicros = r.micros;
        }
        if (end >= 0) tail = Buffer.from(syslogTail(prefix + text.slice(0, end), prefix.length + end, TAIL_LINES));
      } catch (e) {
        this.opts.logger?.warn({ err: this.syslogError(e).message }, "kernel log read failed");
      }
    };
    this.syslogFollowing = true;
    poll();
    this.timer = setInterval(poll, this.pollMs);
    this.timer.unref?.();
  }
  private syslogFollowing = false;

  /** Reads records until EAGAIN (or `max`), handing each parsed one to `sink`. */
  private drain(fd: number, btime: bigint, sink: (r: KmsgRecord) => void, max = Infinity): void {
    const buf = this.buf;
    let n = 0;
    let bad = 0;
    while (n < max) {
      let len: number;
      try {
        len = fs.readSync(fd, buf, 0, READ_BUF, null);
      } catch (e) {
        const code = errCode(e);
        if (code === "EAGAIN" || code === "EWOULDBLOCK") break;
        if (code === "EPIPE") continue; // overrun: the oldest records were overwritten; keep reading
        if (code === "EINVAL" || code === "ENOENT") break; // not a kmsg device (plain file in a fixture)
        throw e;
      }
      if (len === 0) break;
      n++;
      try {
        sink(parseKmsgRecord(buf.toString("utf8", 0, len), btime));
      } catch {
        bad++;
      }
    }
    this.malformed(bad);
  }

  /**
   * The last `kmsgLimit` records. The fd stays open between calls (the original reopened and re-parsed
   * the whole buffer each time), so a call reads only records that arrived since the previous one;
   * the ring keeps the rest.
   */
  async collect(signal: AbortSignal): Promise<KmsgRecord[]> {
    this.btime ??= await this.bootTime(signal);
    if (this.pointFd === undefined && this.syslogCode === undefined) {
      const fd = this.open();
      if (typeof fd === "string") this.syslogCode = fd;
      else this.pointFd = fd;
    }
    if (this.pointFd === undefined) return this.collectSyslog(this.btime);
    try {
      this.drain(this.pointFd, this.btime, (r) => {
        this.ring.push(r);
        if (this.ring.length > this.limit) this.ring.shift();
      });
    } catch (e) {
      fs.closeSync(this.pointFd);
      this.pointFd = undefined;
      throw e;
    }
    return [...this.ring];
  }
  private pointFd: number | undefined;
  private btime: bigint | undefined;
  private readonly ring: KmsgRecord[] = [];

  async start(emit: (event: MetricEvent) => void): Promise<void> {
    if (this.followFd !== undefined || this.syslogFollowing) throw new Error("collector already running");
    const btime = await this.bootTime(AbortSignal.timeout(5000));
    const send = (r: KmsgRecord) => emit({ timestamp: new Date(), metricType: "kernel", eventType: "event", nodeName: "", data: r });
    const fd = this.open();
    if (typeof fd === "string") {
      this.syslogCode = fd;
      this.startSyslog(btime, send);
      return;
    }
    this.followFd = fd;
    const poll = () => {
      if (this.followFd === undefined) return;
      try {
        this.drain(this.followFd, btime, send, MAX_PER_POLL);
      } catch (e) {
        this.opts.logger?.warn({ err: errorMessage(e) }, "kmsg read failed");
      }
    };
    poll();
    this.timer = setInterval(poll, this.pollMs);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    if (this.pointFd !== undefined) fs.closeSync(this.pointFd);
    this.pointFd = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.followFd !== undefined) fs.closeSync(this.followFd);
    this.followFd = undefined;
    this.syslogFollowing = false;
    this.klogBuf = undefined;
  }
}
