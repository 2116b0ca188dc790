// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * tcpflow against the real kernel (root, BTF): a burst of connections between two network
 * namespaces made here (a server and a client process with known pids) is reported 100%, both
 * ends, IPv4 and IPv6, with the right pids, ports, netns, cgroup, payload bytes and durations;
 * libbpf-tools tcplife, run at the same time, sees the same connections; refused connects are
 * reported as failed; stop leaves no program behind.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Registry } from "prom-client";
import { type FlowEvent, registerEbpfMetrics, registerTcpflowMetrics, TcpflowCollector } from "../../src/ebpf/index.ts";
import { lines, makeNetnsPair, type NetnsPair, netnsInode } from "./netns.ts";

const BUN = process.execPath;
const FIX = join(import.meta.dir, "fixtures");
const PER_FAMILY = 150;

interface ClientConn {
  addr: string;
  sport: number;
  sent: number;
  received: number;
  ms: number;
}
interface TcplifeLine {
  pid: number;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  ms: number;
}

/** cgroup v2 id of a process = inode of its cgroup directory on the cgroup2 mount. */
function cgroupId(pid: number): bigint {
  const text = Bun.spawnSync(["cat", `/proc/${pid}/cgroup`]).stdout.toString();
  const path = /^0::(.*)$/m.exec(text)?.[1] ?? "/";
  const mount = Bun.spawnSync(["findmnt", "-n", "-t", "cgroup2", "-o", "TARGET"]).stdout.toString().trim().split("\n")[0]!;
  return BigInt(statSync(join(mount, path), { bigint: true }).ino);
}

describe("tcpflow on the real kernel", () => {
  let ns: NetnsPair;
  const flows: FlowEvent[] = [];
  let collector: TcpflowCollector;
  let server: ReturnType<typeof Bun.spawn>;
  let serverPort = 0;
  let serverPid = 0;
  let clientPid = 0;
  let serverNetns = 0;
  let clientNetns = 0;
  let serverCgroup = 0n;
  let clientCgroup = 0n;
  const conns: ClientConn[] = [];
  const tcplife: TcplifeLine[] = [];
  const reg = new Registry();
  let refusedPort = 0;
  let comm = "";

  beforeAll(async () => {
    expect(process.getuid?.()).toBe(0); // CI runs as root; without it this suite must fail, not skip
    ns = makeNetnsPair("tf");
    // tcplife (line-buffered) is attached before our programs: a tracepoint runs its probes in the
    // order they were attached, so at each CLOSE tcplife reads the clock before we do (see the
    // duration comparison below). Its header line says it is attached.
    const life = Bun.spawn(["stdbuf", "-oL", "tcplife", "-w"], { stdout: "pipe", stderr: "pipe" });
    const lifeLines = lines(life.stdout as ReadableStream<Uint8Array>);
    const header = await lifeLines.next();
    expect(String(header.value)).toContain("PID");
    const lifeDone = (async () => {
      for await (const l of lifeLines) {
        const p = l.trim().split(/\s+/);
        if (p.length < 9 || !/^\d+$/.test(p[0]!)) continue;
        tcplife.push({ pid: Number(p[0]), laddr: p[2]!, lport: Number(p[3]), raddr: p[4]!, rport: Number(p[5]), ms: Number(p[8]) });
      }
    })();
    collector = new TcpflowCollector({ metrics: registerTcpflowMetrics(reg), ebpfMetrics: registerEbpfMetrics(reg) });
    await collector.start((f) => flows.push(f));

    server = Bun.spawn(ns.exec(ns.a, [BUN, join(FIX, "flow-server.ts"), ns.v4a, ns.v6a]), { stdout: "pipe", stderr: "inherit" });
    serverPid = server.pid;
    const first = await lines(server.stdout as ReadableStream<Uint8Array>).next();
    serverPort = JSON.parse(String(first.value)).port;
    serverNetns = netnsInode(ns.a);
    serverCgroup = cgroupId(serverPid);

    const client = Bun.spawn(
      ns.exec(ns.b, [BUN, join(FIX, "flow-client.ts"), String(serverPort), String(PER_FAMILY), "8", ns.v4a, ns.v6a]),
      {
        stdout: "pipe",
        stderr: "inherit",
      },
    );
    clientPid = client.pid;
    clientNetns = netnsInode(ns.b);
    clientCgroup = cgroupId(clientPid);
    for await (const l of lines(client.stdout as ReadableStream<Uint8Array>)) {
      if (!l.trim()) continue;
      conns.push(JSON.parse(l));
      if (!comm) comm = readFileSync(`/proc/${clientPid}/comm`, "utf8").trim();
    }
    expect(await client.exited).toBe(0);

    // Three refused connects (nothing listens on serverPort+1 in ns a: the kernel answers RST).
    refusedPort = serverPort === 65535 ? serverPort - 1 : serverPort + 1;
    const refused = Bun.spawnSync(
      ns.exec(ns.b, [
        BUN,
        "-e",
        `const n=require("node:net");let k=0;for(let i=0;i<3;i++){const s=n.connect(${refusedPort},"${ns.v4a}");s.on("error",()=>{if(++k===3)process.exit(0)})}`,
      ]),
      { stdout: "pipe", stderr: "pipe" },
    );
    expect(refused.exitCode).toBe(0);

    await Bun.sleep(600); // the reader's timed poll (100 ms) and tcplife's perf buffer
    life.kill("SIGINT");
    await life.exited;
    await lifeDone;
  }, 120_000);

  afterAll(async () => {
    server?.kill();
    await collector?.stop();
    ns?.remove();
  });

  const ours = (f: FlowEvent) => f.netns === serverNetns || f.netns === clientNetns;

  test("every connection of the burst is reported from both ends with pid, ports, netns, cgroup, bytes, duration", () => {
    expect(conns).toHaveLength(2 * PER_FAMILY);
    const closes = flows.filter((f) => ours(f) && f.kind === "close" && !f.failed);
    let checked = 0;
    for (const c of conns) {
      const client = closes.filter(
        (f) => f.direction === "outbound" && f.sport === c.sport && f.dport === serverPort && f.daddr === c.addr,
      );
      const server = closes.filter((f) => f.direction === "inbound" && f.dport === c.sport && f.sport === serverPort && f.saddr === c.addr);
      expect(client).toHaveLength(1);
      expect(server).toHaveLength(1);
      const [cf, sf] = [client[0]!, server[0]!];
      expect(cf).toMatchObject({ pid: clientPid, comm, netns: clientNetns, cgroupId: clientCgroup, identKnown: true });
      expect(sf).toMatchObject({ pid: serverPid, comm, netns: serverNetns, cgroupId: serverCgroup, identKnown: true });
      expect(cf.family).toBe(c.addr.includes(":") ? 6 : 4);
      // Payload bytes as the applications wrote and read them.
      expect(cf.bytesSent).toBe(BigInt(c.sent));
      expect(cf.bytesReceived).toBe(BigInt(c.received));
      expect(sf.bytesReceived).toBe(BigInt(c.sent));
      expect(sf.bytesSent).toBe(BigInt(c.received));
      expect(c.received).toBe(2 * c.sent + 5);
      // The kernel's span (SYN_SENT .. CLOSE) lies within what the client measured around it.
      expect(cf.durationNs).toBeGreaterThan(0n);
      expect(Number(cf.durationNs) / 1e6).toBeLessThanOrEqual(c.ms + 1);
      expect(sf.durationNs).toBeGreaterThan(0n);
      // One clock: the server's socket is born (SYN_RECV) after the client's SYN. The two ends close in the same
      // exchange, but in either order: the client's CLOSE (on entering TIME_WAIT) is set after it sends its last ACK,
      // which the server may already have processed on the other CPU.
      expect(sf.startNs).toBeGreaterThan(cf.startNs);
      expect(Math.abs(Number(sf.tsNs - cf.tsNs)) / 1e6).toBeLessThanOrEqual(c.ms + 1);
      expect(Number(sf.durationNs) / 1e6).toBeLessThanOrEqual(c.ms + 1);
      checked++;
    }
    expect(checked).toBe(2 * PER_FAMILY);
  });

  // An ephemeral port can serve an IPv4 and an IPv6 connection at once: every lookup names the address too.
  test("connect and accept records open every connection, with the owner's pid", () => {
    const opens = flows.filter((f) => ours(f) && f.kind !== "close");
    for (const c of conns) {
      expect(
        opens.filter(
          (f) => f.kind === "connect" && f.sport === c.sport && f.daddr === c.addr && f.pid === clientPid && f.dport === serverPort,
        ),
      ).toHaveLength(1);
      expect(
        opens.filter(
          (f) => f.kind === "accept" && f.dport === c.sport && f.saddr === c.addr && f.pid === serverPid && f.sport === serverPort,
        ),
      ).toHaveLength(1);
    }
  });

  test("refused connects are reported as failed outbound closes", () => {
    const failed = flows.filter((f) => ours(f) && f.failed && f.dport === refusedPort);
    expect(failed).toHaveLength(3);
    for (const f of failed)
      expect(f).toMatchObject({ kind: "close", direction: "outbound", daddr: ns.v4a, bytesSent: 0n, bytesReceived: 0n });
  });

  test("libbpf-tools tcplife, run at the same time, saw the same connections with the same pids and comparable durations", () => {
    const stats = collector.stats();
    expect(stats.lostRingbufFull + stats.lostTableFull).toBe(0n);
    let lifeSeen = 0;
    for (const c of conns) {
      const l = tcplife.find((t) => t.lport === c.sport && t.rport === serverPort && t.raddr === c.addr);
      if (!l) continue;
      lifeSeen++;
      expect(l.pid).toBe(clientPid);
      const ourMs =
        Number(flows.find((f) => f.kind === "close" && f.sport === c.sport && f.dport === serverPort && f.daddr === c.addr)!.durationNs) /
        1e6;
      // tcplife starts its clock at ESTABLISHED, we at SYN_SENT (an earlier event), and at CLOSE it reads
      // the clock before we do (attached first): ours is never shorter. Whatever stops the CPU between
      // the two programs (an interrupt, the hypervisor) lengthens ours only. The slack is tcplife's own
      // rounding: whole microseconds printed as milliseconds to two decimals (up to 5 us up).
      expect(ourMs + 0.005).toBeGreaterThanOrEqual(l.ms);
    }
    // What tcplife reported of the burst, we reported too (we have all of it, per the first test).
    expect(lifeSeen).toBeGreaterThan(0);
    console.log(JSON.stringify({ burst: conns.length, agent: conns.length, tcplife: lifeSeen }));
  });
});
