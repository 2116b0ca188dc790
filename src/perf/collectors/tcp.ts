// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// tcp collector: /proc/net/snmp Tcp and netstat TcpExt counters with deltas, and connection counts by
// state via sock_diag netlink or /proc/net/tcp{,6}.

import { lstatSync } from "node:fs";
import { errorMessage } from "../../util/errors.ts";
import type { HostPaths, PointCollector } from "../collector.ts";
import { type DeltaMetadata, DeltaTracker, rate, u64Delta } from "../delta.ts";
import { countTcpStates, emptyStateCounts, parseSockstat } from "../parsers/nettcp.ts";
import { parseUdpQueues, type UdpQueues } from "../parsers/netudp.ts";
import { pairsToValues, parseProtoPairs, parseSnmpTcp, sectionValues } from "../parsers/snmp.ts";
import { parseSnmp6 } from "../parsers/snmp6.ts";
import { countTcpStatesNetlinkYielding, netlinkAvailable } from "../sockdiag.ts";
import { BaseCollector, type CollectorOptions, type HasExtra, spec, withExtra } from "./common.ts";

/** The whole of snmp, netstat and sockstat as "Section_Field" keys, for the exposition. */
export interface TCPExtra {
  snmp: Map<string, bigint>;
  netstat: Map<string, bigint>;
  sockstat: Map<string, bigint>;
  /** /proc/net/snmp6 as "Ip6_InOctets" keys (empty when IPv6 is off). */
  snmp6: Map<string, bigint>;
  /** Queued bytes summed over /proc/net/udp (v4) and udp6 (v6); absent when the file is missing or malformed. */
  udpQueues: { v4?: UdpQueues; v6?: UdpQueues };
}

const SNMP_FIELDS: [string, string][] = [
  ["ActiveOpens", "active_opens"],
  ["PassiveOpens", "passive_opens"],
  ["AttemptFails", "attempt_fails"],
  ["EstabResets", "estab_resets"],
  ["CurrEstab", "curr_estab"],
  ["InSegs", "in_segs"],
  ["OutSegs", "out_segs"],
  ["RetransSegs", "retrans_segs"],
  ["InErrs", "in_errs"],
  ["OutRsts", "out_rsts"],
  ["InCsumErrors", "in_csum_errors"],
];
const EXT_FIELDS: [string, string][] = [
  ["SyncookiesSent", "syncookies_sent"],
  ["SyncookiesRecv", "syncookies_recv"],
  ["SyncookiesFailed", "syncookies_failed"],
  ["ListenOverflows", "listen_overflows"],
  ["ListenDrops", "listen_drops"],
  ["TCPLostRetransmit", "tcp_lost_retransmit"],
  ["TCPFastRetrans", "tcp_fast_retrans"],
  ["TCPSlowStartRetrans", "tcp_slow_start_retrans"],
  ["TCPTimeouts", "tcp_timeouts"],
];
/** Counters that get deltas (CurrEstab and the states are levels). */
const DELTA_FIELDS = [...SNMP_FIELDS, ...EXT_FIELDS].map(([, j]) => j).filter((j) => j !== "curr_estab");

export type TCPStats = Record<string, unknown> & { connections_by_state?: Record<string, number>; delta?: TCPDeltaData };
export type TCPDeltaData = DeltaMetadata & Record<string, bigint | number | boolean | string>;

/**
 * /proc/net/snmp Tcp (critical), /proc/net/netstat TcpExt, snmp6, sockstat{,6} and udp{,6} queues (optional)
 * and connection counts by state.
 * States come from sock_diag netlink when available (the kernel walks only the hash buckets once for a
 * dump, with no text formatting; see docs/metrics.md), else from /proc/net/tcp and tcp6 like the original.
 */
export class TCPCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("tcp", "TCP Statistics Collector", true, true, "2.6.0");
  private readonly tracker: DeltaTracker<Record<string, bigint>>;
  private readonly states: "netlink" | "proc" | "off";
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
    this.tracker = new DeltaTracker(this.deltaConfig);
    const want = opts.tcpStates ?? "auto";
    // netlink answers for the agent's own network namespace, as <proc>/net/tcp does when <proc> is a
    // procfs mount (net -> self/net). A proc root that is not procfs (a fixture tree) uses its files.
    this.states = want === "auto" ? (isProcfs(paths.proc) && netlinkAvailable() ? "netlink" : "proc") : want;
  }
  async collect(signal: AbortSignal): Promise<TCPStats & HasExtra<TCPExtra>> {
    const p = this.paths.proc;
    const wantFiles = this.states === "proc";
    const optional = ["netstat", "sockstat", "sockstat6", "snmp6", "udp", "udp6", ...(wantFiles ? ["tcp", "tcp6"] : [])];
    // the optional /proc/net files in one reader-thread round trip (one each cost more than the reads)
    const [snmpTxt, texts] = await Promise.all([
      this.io.read(`${p}/net/snmp`, signal).catch((e: Error) => {
        throw signal.aborted ? e : new Error(`failed to parse SNMP stats: failed to open ${p}/net/snmp: ${e.message}`);
      }),
      this.io.readManyOptional(
        optional.map((f) => `${p}/net/${f}`),
        signal,
      ),
    ]);
    const [netstatTxt, sock4, sock6, snmp6Txt, udp4, udp6, tcp4, tcp6] = texts;
    const now = this.now();
    const snmpPairs = parseProtoPairs(snmpTxt);
    const netstatPairs = netstatTxt !== undefined ? parseProtoPairs(netstatTxt) : new Map();
    let snmp: Map<string, bigint>;
    try {
      const r = parseSnmpTcp(snmpPairs, `${p}/net/snmp`);
      snmp = r.values;
      this.malformed(r.malformed);
    } catch (e) {
      throw new Error(`failed to parse SNMP stats: ${errorMessage(e)}`);
    }
    const out: TCPStats = {};
    for (const [k, j] of SNMP_FIELDS) out[j] = snmp.get(k) ?? 0n;
    let ext = new Map<string, bigint>();
    {
      const s = netstatPairs.get("TcpExt");
      if (s) {
        try {
          ext = sectionValues("TcpExt", s).values;
        } catch {
          this.malformed(1);
        }
      }
    }
    for (const [k, j] of EXT_FIELDS) out[j] = ext.get(k) ?? 0n;
    if (this.states !== "off") {
      let states = emptyStateCounts();
      if (this.states === "netlink") {
        states = await countTcpStatesNetlinkYielding(signal);
      } else {
        if (tcp4 !== undefined) this.malformed(countTcpStates(tcp4, states).malformed);
        if (tcp6 !== undefined) this.malformed(countTcpStates(tcp6, states).malformed);
      }
      out.connections_by_state = states;
    }
    const cur: Record<string, bigint> = {};
    for (const j of DELTA_FIELDS) cur[j] = out[j] as bigint;
    const should = this.tracker.shouldCalculate(now);
    if (should.ok) {
      const prev = this.tracker.last!;
      let reset = false;
      const d: Record<string, unknown> = {};
      for (const j of DELTA_FIELDS) {
        const x = u64Delta(cur[j]!, prev[j]!);
        d[j] = x.delta;
        reset ||= x.reset;
      }
      if (!reset) for (const j of DELTA_FIELDS) d[`${j}_per_sec`] = rate(d[j] as bigint, should.intervalMs / 1000);
      out.delta = { ...this.tracker.metadata(now, should.intervalMs, reset), ...d } as TCPDeltaData;
      this.tracker.commit(cur, now);
    } else if (this.tracker.isFirst) this.tracker.commit(cur, now);
    const snmpAll = pairsToValues(snmpPairs).values;
    const netstatAll = pairsToValues(netstatPairs).values;
    const sockstat = new Map<string, bigint>([
      ...(sock4 ? parseSockstat(sock4).values : []),
      ...(sock6 ? parseSockstat(sock6).values : []),
    ]);
    const snmp6 = snmp6Txt !== undefined ? parseSnmp6(snmp6Txt) : { values: new Map<string, bigint>(), malformed: 0 };
    this.malformed(snmp6.malformed);
    const udpQueues = { v4: this.udpQueues(udp4, `${p}/net/udp`), v6: this.udpQueues(udp6, `${p}/net/udp6`) };
    return withExtra<TCPStats, TCPExtra>(out, { snmp: snmpAll, netstat: netstatAll, sockstat, snmp6: snmp6.values, udpQueues });
  }

  /** Queue sums of one udp file; undefined (and counted as malformed) when it cannot be parsed. */
  private udpQueues(text: string | undefined, path: string): UdpQueues | undefined {
    if (text === undefined) return undefined;
    try {
      return parseUdpQueues(text, path);
    } catch (e) {
      this.malformed(1);
      this.opts.logger?.warn({ collector: "tcp", err: errorMessage(e) }, "UDP queue sizes left out");
      return undefined;
    }
  }
}

function isProcfs(root: string): boolean {
  try {
    return lstatSync(`${root}/self`).isSymbolicLink();
  } catch {
    // no <root>/self: a fixture tree, not a mounted procfs
    return false;
  }
}
