// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * tcpflow's two programs on sock:inet_sock_set_state, on the real kernel: the main one and the
 * fallback that runs a state change the kernel skipped for the main one (nested on one CPU) are
 * both attached (bpftool sees two raw-tracepoint links), every close of a burst is reported once
 * (the fallback never doubles a record the main program made), the recursion count reads both
 * programs' skips, and stop detaches and frees both. Then the nesting itself, provoked: connects
 * that give up in the timer softirq of a CPU kept busy in connect/close (fixtures/syn-blackhole.ts)
 * are skipped by the main program and run by the fallback, and the recursion count is exactly the
 * skips not recovered.
 */

import { expect, test } from "bun:test";
import { Registry } from "prom-client";
import { registerEbpfMetrics, registerTcpflowMetrics, TCPFLOW_PROGRAMS, TcpflowCollector } from "../../src/ebpf/index.ts";
import { programRecursionMisses } from "../../src/ebpf/prog-misses.ts";
import { startLoopbackBurst } from "./loopback-burst.ts";

interface ProgJson {
  id: number;
  name?: string;
}
interface LinkJson {
  type: string;
  prog_id: number;
  tp_name?: string;
}
const bpftool = <T>(...args: string[]): T => {
  const r = Bun.spawnSync(["bpftool", "-j", ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`bpftool ${args.join(" ")}: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString()) as T;
};

test("both state-change programs are attached, every close is reported once, both detach on stop", async () => {
  expect(process.getuid?.()).toBe(0);
  expect(TCPFLOW_PROGRAMS).toContain("tp_btf__inet_sock_set_state_nested");
  const reg = new Registry();
  const c = new TcpflowCollector({ metrics: registerTcpflowMetrics(reg), ebpfMetrics: registerEbpfMetrics(reg), lostPollMs: 100 });
  const N = 200;
  let port = 0;
  const closes = new Map<number, number>();
  await c.start((f) => {
    if (port === 0 || f.kind !== "close" || (f.sport !== port && f.dport !== port)) return;
    const k = f.sport === port ? f.dport : f.sport; // the client's port names the connection at both ends
    closes.set(k, (closes.get(k) ?? 0) + 1);
  });
  const ids = c.programIds();
  let stateIds: number[] = [];
  try {
    expect(ids).toHaveLength(TCPFLOW_PROGRAMS.length);
    const names = new Map(bpftool<ProgJson[]>("prog", "show").map((p) => [p.id, p.name]));
    stateIds = ids.filter((id) => names.get(id)?.startsWith("tp_btf__inet_sock_set_state"));
    expect(stateIds.map((id) => names.get(id)).sort()).toEqual(["tp_btf__inet_sock_set_state", "tp_btf__inet_sock_set_state_nested"]);
    const links = bpftool<LinkJson[]>("link", "show").filter((l) => stateIds.includes(l.prog_id));
    expect(links.map((l) => [l.type, l.tp_name])).toEqual([
      ["raw_tracepoint", "inet_sock_set_state"],
      ["raw_tracepoint", "inet_sock_set_state"],
    ]);
    // The recursion count reads the fallback's own counter too (6.x kernels have one per program).
    expect(programRecursionMisses(stateIds)).toBeGreaterThanOrEqual(0n);
    expect(ids).toEqual(expect.arrayContaining(stateIds));

    const burst = await startLoopbackBurst(N);
    port = burst.port;
    burst.go();
    expect(await burst.exited).toBe(0);
    await Bun.sleep(500);
  } finally {
    await c.stop();
  }
  const s = c.stats();
  const lost = s.lostRingbufFull + s.lostTableFull + s.lostRecursion + s.lostUnseenClose;
  // Two ends per connection, each reported exactly once (a recovered event is not reported twice).
  expect([...closes.values()].every((n) => n === 2)).toBe(true);
  expect(BigInt(2 * closes.size) + lost).toBeGreaterThanOrEqual(BigInt(2 * N));
  expect(s.recovered).toBeGreaterThanOrEqual(0n);
  // Detached and freed: neither program nor its link is left in the kernel.
  const left = bpftool<ProgJson[]>("prog", "show").filter((p) => stateIds.includes(p.id));
  expect(left).toEqual([]);
  expect(bpftool<LinkJson[]>("link", "show").filter((l) => stateIds.includes(l.prog_id))).toEqual([]);
}, 60_000);

test("state changes the kernel skipped for the main program (softirq closes nested in it) are run by the fallback and reported", async () => {
  expect(process.getuid?.()).toBe(0);
  // Namespace A's peer 10.231.x.2 is a permanent neighbour on a veth whose other end (in B) has no
  // address: SYNs leave and nothing answers. With tcp_syn_retries=1 each connect ends about 3 s
  // later, in the timer softirq of the CPU that made it.
  const tag = `amtn${process.pid}`;
  const x = 1 + (process.pid % 250);
  const [a, b, va, vb] = [`${tag}a`, `${tag}b`, `vn${process.pid}a`.slice(0, 15), `vn${process.pid}b`.slice(0, 15)];
  const peer = `10.231.${x}.2`;
  const run = (argv: string[]) => {
    const r = Bun.spawnSync(argv, { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  };
  const cleanup = () => {
    for (const ns of [a, b]) Bun.spawnSync(["ip", "netns", "del", ns], { stdout: "ignore", stderr: "ignore" });
  };
  cleanup();
  const reg = new Registry();
  const c = new TcpflowCollector({ metrics: registerTcpflowMetrics(reg), ebpfMetrics: registerEbpfMetrics(reg), lostPollMs: 100 });
  let failed = 0;
  const heldMs: number[] = [];
  let nestedMisses = 0n;
  let mainMisses = 0n;
  let made = { held: 0, timedOut: 0, churn: 0 };
  let rounds = 0;
  try {
    run(["ip", "netns", "add", a]);
    run(["ip", "netns", "add", b]);
    run(["ip", "link", "add", va, "type", "veth", "peer", "name", vb]);
    run(["ip", "link", "set", va, "netns", a]);
    run(["ip", "link", "set", vb, "netns", b]);
    run(["ip", "-n", a, "link", "set", "lo", "up"]);
    run(["ip", "-n", a, "addr", "add", `10.231.${x}.1/24`, "dev", va]);
    run(["ip", "-n", a, "link", "set", va, "up"]);
    run(["ip", "-n", b, "link", "set", vb, "up"]);
    run(["ip", "-n", a, "neigh", "add", peer, "lladdr", "02:00:00:00:00:02", "dev", va, "nud", "permanent"]);
    run(["ip", "netns", "exec", a, "sysctl", "-qw", "net.ipv4.tcp_syn_retries=1"]);
    await c.start((f) => {
      if (f.kind !== "close" || !f.failed || f.daddr !== peer || f.dport !== 81) return;
      failed++;
      heldMs.push(Number(f.durationNs / 1_000_000n));
    });
    // 2000 connects left to time out, and connect/close churn on the same CPU over them until the last
    // one has ended. At the highest priority: on a loaded machine the churn must still hold the CPU
    // when the timer softirqs come, or nothing nests (a SCHED_OTHER weight of 88761 against 1024 for
    // each nice-0 task on that CPU; not a real-time class, so the CPU's kernel threads still run).
    // Nesting stays a matter of chance (the timer softirq must interrupt the main program mid-run; on
    // a busy host it often runs in ksoftirqd instead), so a round that provoked none is followed by
    // another, three at most; every round's connects are accounted for below.
    const ids = c.programIds();
    const misses = (name: (typeof TCPFLOW_PROGRAMS)[number]) => programRecursionMisses([ids[TCPFLOW_PROGRAMS.indexOf(name)]!]);
    for (let round = 0; round < 3 && mainMisses === 0n; round++) {
      const fix = Bun.spawn(
        [
          "nice",
          "-n",
          "-20",
          "taskset",
          "-c",
          "0",
          "ip",
          "netns",
          "exec",
          a,
          process.execPath,
          `${import.meta.dir}/fixtures/syn-blackhole.ts`,
          peer,
          "80",
          "2000",
          "4.5",
        ],
        { stdout: "pipe", stderr: "inherit" },
      );
      expect(await fix.exited).toBe(0);
      const r = JSON.parse(await new Response(fix.stdout).text()) as typeof made;
      made = { held: made.held + r.held, timedOut: made.timedOut + r.timedOut, churn: made.churn + r.churn };
      rounds++;
      // Every held connect has ended (the tracepoint ran for it): stop() drains what is still in the ring.
      mainMisses = misses("tp_btf__inet_sock_set_state");
      nestedMisses = misses("tp_btf__inet_sock_set_state_nested");
    }
  } finally {
    await c.stop();
    cleanup();
  }
  const s = c.stats();
  console.log(
    JSON.stringify(
      {
        made,
        rounds,
        failedCloses: failed,
        heldMs: [Math.min(...heldMs), Math.max(...heldMs)],
        mainMisses,
        nestedMisses,
        recovered: s.recovered,
        stats: s,
      },
      (_k, v) => (typeof v === "bigint" ? String(v) : v),
    ),
  );
  expect(made.held).toBe(2000 * rounds);
  // Each held connect ended in the timer softirq before the fixture exited (none in its exit's closes).
  expect(made.timedOut).toBe(made.held);
  // The kernel skipped the main program for some of the timer closes, and the fallback ran them.
  expect(mainMisses).toBeGreaterThan(0n);
  expect(s.recovered).toBeGreaterThan(0n);
  expect(s.recovered).toBeLessThanOrEqual(mainMisses);
  // Every held connect ended in exactly one failed close: reported (the recovered ones too), or
  // counted as lost; never twice. The held sockets are destroyed when the fixture exits, so a close
  // the kernel ran neither program for (and counted no skip: seen on 6.18, a timer tick's batch, see
  // tcpflow.bpf.c) is counted by then as an unseen close.
  expect(failed).toBeLessThanOrEqual(made.held);
  expect(BigInt(failed) + s.lostRingbufFull + s.lostTableFull + s.lostRecursion + s.lostUnseenClose).toBeGreaterThanOrEqual(
    BigInt(made.held),
  );
  // What was skipped and not recovered is what the recursion count says (the fallback's own skips included).
  expect(s.lostRecursion).toBe(mainMisses + nestedMisses - s.recovered);
}, 120_000);
