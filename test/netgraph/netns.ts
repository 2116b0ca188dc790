// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Two network namespaces joined by a veth pair, for the netgraph tests and bench: IPv4
 * 10.241.X.1 / .2 and IPv6 fd00:241:X::1 / ::2 (X from the pid, so parallel runs do not collide),
 * with helpers to run a process inside one and to remove everything.
 */

import { statSync } from "node:fs";

export interface NetnsPair {
  a: string;
  b: string;
  v4a: string;
  v4b: string;
  v6a: string;
  v6b: string;
  /** `ip netns exec <ns> ...argv` */
  exec(ns: string, argv: string[]): string[];
  /** Deletes both namespaces (the veth pair goes with them). */
  remove(): void;
}

function ip(args: string[]): void {
  const r = Bun.spawnSync(["ip", ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(" ")} failed: ${r.stderr.toString().trim()}`);
}

export function makeNetnsPair(tag: string): NetnsPair {
  const x = 1 + (process.pid % 250);
  const a = `am${tag}${process.pid}a`;
  const b = `am${tag}${process.pid}b`;
  const va = `v${tag}${process.pid}a`.slice(0, 15);
  const vb = `v${tag}${process.pid}b`.slice(0, 15);
  const pair: NetnsPair = {
    a,
    b,
    v4a: `10.241.${x}.1`,
    v4b: `10.241.${x}.2`,
    v6a: `fd00:241:${x.toString(16)}::1`,
    v6b: `fd00:241:${x.toString(16)}::2`,
    exec: (ns, argv) => ["ip", "netns", "exec", ns, ...argv],
    remove: () => {
      for (const ns of [a, b]) Bun.spawnSync(["ip", "netns", "del", ns], { stdout: "ignore", stderr: "ignore" });
    },
  };
  pair.remove();
  ip(["netns", "add", a]);
  ip(["netns", "add", b]);
  ip(["link", "add", va, "type", "veth", "peer", "name", vb]);
  ip(["link", "set", va, "netns", a]);
  ip(["link", "set", vb, "netns", b]);
  for (const [ns, dev, v4, v6] of [
    [a, va, pair.v4a, pair.v6a],
    [b, vb, pair.v4b, pair.v6b],
  ] as const) {
    ip(["-n", ns, "link", "set", "lo", "up"]);
    ip(["-n", ns, "addr", "add", `${v4}/24`, "dev", dev]);
    ip(["-n", ns, "addr", "add", `${v6}/64`, "dev", dev, "nodad"]);
    ip(["-n", ns, "link", "set", dev, "up"]);
  }
  return pair;
}

/** Inode of a named network namespace (what the kernel reports as its sockets' netns). */
export function netnsInode(name: string): number {
  return statSync(`/run/netns/${name}`).ino;
}

/** Reads lines of a child's stdout as they arrive. */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    let i = buf.indexOf("\n");
    while (i >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
      i = buf.indexOf("\n");
    }
  }
  if (buf) yield buf;
}
