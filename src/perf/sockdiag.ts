// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// TCP connection counts by state via NETLINK_SOCK_DIAG (as `ss -tan` does) through bun:ffi into libc,
// much cheaper than reading /proc/net/tcp and tcp6.

import { ptr } from "bun:ffi";
import { lazyLibc } from "../util/libc.ts";
import { emptyStateCounts } from "./parsers/nettcp.ts";

/**
 * TCP connection counts by state through NETLINK_SOCK_DIAG (what `ss -tan` uses), through bun:ffi into
 * libc; no native addon. Reading /proc/net/tcp and tcp6 costs ~3.5 ms each on a 24 GiB host because the
 * kernel formats a line per socket after walking the whole established hash (host-measurements.md); the
 * netlink dump returns fixed 72-byte binary records and costs a fraction of that (see docs/metrics.md).
 * Counts are for the agent's network namespace, as /proc/net/tcp read by the agent is.
 */

const AF_NETLINK = 16;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_SOCK_DIAG = 4;
const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const IPPROTO_TCP = 6;
const AF_INET = 2;
const AF_INET6 = 10;

/** Kernel TCP state numbers to the names /proc/net/tcp uses (12 NEW_SYN_RECV shows as SYN_RECV there). */
const STATE_NAMES: Record<number, string> = {
  1: "ESTABLISHED",
  2: "SYN_SENT",
  3: "SYN_RECV",
  4: "FIN_WAIT1",
  5: "FIN_WAIT2",
  6: "TIME_WAIT",
  7: "CLOSE",
  8: "CLOSE_WAIT",
  9: "LAST_ACK",
  10: "LISTEN",
  11: "CLOSING",
  12: "SYN_RECV",
};

type Libc = {
  symbols: {
    socket: (a: number, b: number, c: number) => number;
    send: (fd: number, buf: number, len: number, flags: number) => number | bigint;
    recv: (fd: number, buf: number, len: number, flags: number) => number | bigint;
    close: (fd: number) => number;
  };
};

/** Null without glibc: the tcp collector reads /proc/net/tcp instead. */
const load = lazyLibc<Libc>({
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  send: { args: ["i32", "ptr", "u64", "i32"], returns: "i64" },
  recv: { args: ["i32", "ptr", "u64", "i32"], returns: "i64" },
  close: { args: ["i32"], returns: "i32" },
});

let probed: boolean | undefined;
/** True when libc loads and a sock_diag dump works here (probed once). */
export function netlinkAvailable(): boolean {
  if (probed !== undefined) return probed;
  try {
    if (!load()) return (probed = false);
    countTcpStatesNetlink();
    probed = true;
  } catch {
    // netlink sock_diag refused (no CONFIG_INET_DIAG, seccomp): /proc/net/tcp is the fallback
    probed = false;
  }
  return probed;
}

/**
 * One dump of `family`'s TCP sockets, counted into `into`. The kernel walks its socket hash a chunk per
 * recv() (one 64 KiB buffer of records), so the generator yields after each chunk: the async caller
 * lets the event loop run between chunks. With 100k+ TIME_WAIT sockets (a scraper opening a connection
 * per scrape) one whole dump blocks for hundreds of ms; a chunk for a few.
 */
function* dumpChunks(l: Libc, family: number, into: Record<string, number>): Generator<void, void, void> {
  const req = new Uint8Array(72);
  const recvBuf = new Uint8Array(64 * 1024);
  const fd = l.symbols.socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) throw new Error("sock_diag: socket() failed");
  try {
    const dv = new DataView(req.buffer);
    dv.setUint32(0, 72, true);
    dv.setUint16(4, SOCK_DIAG_BY_FAMILY, true);
    dv.setUint16(6, NLM_F_REQUEST | NLM_F_DUMP, true);
    dv.setUint32(8, 1, true);
    req[16] = family;
    req[17] = IPPROTO_TCP;
    dv.setUint32(20, 0xffffffff, true); // all states
    if (Number(l.symbols.send(fd, ptr(req) as unknown as number, 72, 0)) !== 72) throw new Error("sock_diag: send failed");
    const rv = new DataView(recvBuf.buffer);
    for (;;) {
      const n = Number(l.symbols.recv(fd, ptr(recvBuf) as unknown as number, recvBuf.byteLength, 0));
      if (n <= 0) throw new Error("sock_diag: recv failed");
      let off = 0;
      while (off + 16 <= n) {
        const len = rv.getUint32(off, true);
        const type = rv.getUint16(off + 4, true);
        if (len < 16) return;
        if (type === NLMSG_DONE) return;
        if (type === NLMSG_ERROR) throw new Error(`sock_diag: error ${-rv.getInt32(off + 16, true)}`);
        const state = recvBuf[off + 17]!;
        const name = STATE_NAMES[state];
        if (name) into[name] = (into[name] ?? 0) + 1;
        off += (len + 3) & ~3;
      }
      yield;
    }
  } finally {
    l.symbols.close(fd);
  }
}

/** Counts IPv4 + IPv6 TCP sockets by state; all 11 names present. Throws if netlink is unusable. */
export function countTcpStatesNetlink(): Record<string, number> {
  const l = load();
  if (!l) throw new Error("sock_diag: libc not loadable");
  const out = emptyStateCounts();
  for (const family of [AF_INET, AF_INET6]) for (const _chunk of dumpChunks(l, family, out));
  return out;
}

/** countTcpStatesNetlink, letting the event loop run between chunks; stops at `signal`. */
export async function countTcpStatesNetlinkYielding(signal?: AbortSignal): Promise<Record<string, number>> {
  const l = load();
  if (!l) throw new Error("sock_diag: libc not loadable");
  const out = emptyStateCounts();
  for (const family of [AF_INET, AF_INET6]) {
    for (const _chunk of dumpChunks(l, family, out)) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      signal?.throwIfAborted();
    }
  }
  return out;
}
