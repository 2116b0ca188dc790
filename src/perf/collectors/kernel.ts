// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import * as fs from "node:fs";
import type { ContinuousCollector, HostPaths, MetricEvent, PointCollector } from "../collector.ts";
import { errCode } from "../io.ts";
import { parseKmsgRecord, type KmsgRecord } from "../parsers/kmsg.ts";
import { parseStat } from "../parsers/stat.ts";
import { BaseCollector, spec, type CollectorOptions } from "./common.ts";

const READ_BUF = 8192;
/** Records drained per poll in follow mode; the rest wait for the next poll (the kernel keeps them). */
const MAX_PER_POLL = 2000;
/**
 * Follow-mode poll period. /dev/kmsg has no inotify and a blocking read would pin an I/O thread, so the
 * non-blocking fd is drained periodically; each empty poll costs an EAGAIN. The original slept 100 ms;
 * at 100 ms that alone was ~3 ms of CPU per second here, so the default is 1 s (kmsgPollMs).
 */
const POLL_MS = 1000;

/**
 * /dev/kmsg records. Point mode: everything currently in the buffer, keeping the last `kmsgLimit` (50);
 * permission denied gives an empty list. Follow mode (`start`): emits the existing records once (HEAD's
 * initial dump), then new ones as they arrive, polling the non-blocking fd every second (kmsgPollMs).
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
      throw new Error(`failed to get boot time: ${(e as Error).message}`);
    }
    const b = parseStat(text).btime;
    if (b === undefined) throw new Error(`failed to get boot time: btime not found in ${this.paths.proc}/stat`);
    return b;
  }

  private open(): number | undefined {
    try {
      return fs.openSync(`${this.paths.dev}/kmsg`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (e) {
      if (errCode(e) === "EACCES" || errCode(e) === "EPERM") return undefined;
      throw new Error(`failed to open ${this.paths.dev}/kmsg: ${(e as Error).message}`);
    }
  }

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
    if (this.pointFd === undefined) {
      const fd = this.open();
      if (fd === undefined) return [];
      this.pointFd = fd;
    }
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
    if (this.followFd !== undefined) throw new Error("collector already running");
    const btime = await this.bootTime(AbortSignal.timeout(5000));
    const fd = this.open();
    if (fd === undefined) throw new Error(`permission denied reading ${this.paths.dev}/kmsg (needs CAP_SYSLOG)`);
    this.followFd = fd;
    const send = (r: KmsgRecord) => emit({ timestamp: new Date(), metricType: "kernel", eventType: "event", nodeName: "", data: r });
    const poll = () => {
      if (this.followFd === undefined) return;
      try {
        this.drain(this.followFd, btime, send, MAX_PER_POLL);
      } catch (e) {
        this.opts.logger?.warn({ err: (e as Error).message }, "kmsg read failed");
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
  }
}
