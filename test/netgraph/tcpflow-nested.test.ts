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
 * programs' skips, and stop detaches and frees both.
 */

import { expect, test } from "bun:test";
import { Registry } from "prom-client";
import { registerEbpfMetrics, registerTcpflowMetrics, TCPFLOW_PROGRAMS, TcpflowCollector } from "../../src/ebpf/index.ts";
import { programRecursionMisses } from "../../src/ebpf/prog-misses.ts";

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

    const child = Bun.spawn(
      [
        process.execPath,
        "-e",
        `const net=require("node:net");const s=net.createServer(c=>{c.on("data",()=>{});c.end()});s.listen(0,"127.0.0.1",async()=>{console.log(s.address().port);await new Promise(r=>process.stdin.once("data",r));for(let i=0;i<${N};i++)await new Promise(r=>{const k=net.connect(s.address().port,"127.0.0.1",()=>k.end("x"));k.on("data",()=>{});k.on("close",r)});s.close();process.exit(0)})`,
      ],
      { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
    );
    const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
    port = Number(new TextDecoder().decode((await reader.read()).value).trim());
    child.stdin.write("go\n");
    child.stdin.flush();
    expect(await child.exited).toBe(0);
    await Bun.sleep(500);
  } finally {
    await c.stop();
  }
  const s = c.stats();
  const lost = s.lostRingbufFull + s.lostTableFull + s.lostRecursion;
  // Two ends per connection, each reported exactly once (a recovered event is not reported twice).
  expect([...closes.values()].every((n) => n === 2)).toBe(true);
  expect(BigInt(2 * closes.size) + lost).toBeGreaterThanOrEqual(BigInt(2 * N));
  expect(s.recovered).toBeGreaterThanOrEqual(0n);
  // Detached and freed: neither program nor its link is left in the kernel.
  const left = bpftool<ProgJson[]>("prog", "show").filter((p) => stateIds.includes(p.id));
  expect(left).toEqual([]);
  expect(bpftool<LinkJson[]>("link", "show").filter((l) => stateIds.includes(l.prog_id))).toEqual([]);
}, 60_000);
