// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// bench/store/outbox-drain: CPU per outbox entry of the intake's store work,
// on a file store holding N pending 1 KiB resources:
//   read:    outbox.read (protobuf-es messages) + encodeEntries   vs   outbox.readRaw + encodeEntries
//   confirm, three ways, in rotating order, each confirming everything pending as 2000-entry chunks:
//     upTo:    the intake's confirm of a stream read as one contiguous range (confirm with readAfter, as
//              src/intake/streamer.ts#confirmChunked): the channel's confirmed-up-to seq moves, rows stay
//     range:   the same inside a store batch, where the outbox deletes the seq range instead (the
//              previous release's path)
//     batched: the (key, seq) confirm (one statement per 500 entries; rows deleted)
//   update:  the writes that refill the outbox after each kind of confirm (updates of the same N objects,
//            1 KiB): after upTo each object's done row is rewritten in place, after the others each
//            entry is a new row; and the same updates on a store that records no outbox (the anchor:
//            the outbox's share of a write is the difference)
//   bun bench/store/outbox-drain.ts [--n 20000] [--reps 3]
// Prints one JSON object (medians over reps; CPU = this process's user+sys time).

import { parseArgs } from "node:util";
import { encodeEntries, objectSuffix } from "../../src/intake/wire.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { type OutboxEntry, type OutboxRawEntry, openStore, type Store } from "../../src/store/index.ts";
import { POD, resource, tempDir } from "../../test/store/fixtures.ts";

const { values: a } = parseArgs({ options: { n: { type: "string", default: "20000" }, reps: { type: "string", default: "3" } } });
const N = Number(a.n);
const reps = Number(a.reps);
const { dir, cleanup } = tempDir("outbox-drain-");
const store = openStore({ dataDirectory: dir, logger: silentLogger });
const bare = openStore({ dataDirectory: `${dir}/bare`, logger: silentLogger, outboxChannels: ["instance"] });
const suffix = objectSuffix(300_000, "abcdabcd");
const cpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const res: Record<string, number[]> = {};
const record = (k: string, v: number) => (res[k] ??= []).push(v);
let gen = 0;
/** Updates the N objects (the same keys every time) in batches of 500; returns CPU us per entry. */
function fill(s: Store): number {
  gen++;
  const resources = Array.from({ length: N }, (_, j) => resource(POD, `p${j}`, `g${gen}`, 1024));
  const t = cpu();
  for (let i = 0; i < N; i += 500)
    s.batch(() => {
      for (let j = i; j < Math.min(N, i + 500); j++) s.updateResource(resources[j]!);
    });
  return (cpu() - t) / N;
}

type Confirm = "upTo" | "range" | "batched";
/** Confirms everything pending, read in 2000-entry chunks as a stream would; returns CPU us per entry. */
function confirmAll(how: Confirm): number {
  const entries = store.outbox.read("cluster", 0, N);
  const t = cpu();
  let n = 0;
  let after = 0;
  for (let i = 0; i < entries.length; i += 2000) {
    const part = entries.slice(i, i + 2000);
    if (how === "batched") n += store.outbox.confirm("cluster", part);
    else if (how === "upTo") n += store.outbox.confirm("cluster", part, after);
    else n += store.batch(() => store.outbox.confirm("cluster", part, after));
    after = part.at(-1)!.seq;
  }
  const us = (cpu() - t) / n;
  if (n !== N) throw new Error(`confirmed ${n} of ${N}`);
  return us;
}
const ways: Confirm[] = ["upTo", "range", "batched"];
try {
  fill(store);
  fill(bare);
  for (let r = 0; r < reps; r++) {
    for (let w = 0; w < ways.length; w++) {
      const how = ways[(r + w) % ways.length]!;
      if (w === 0) {
        for (const mode of ["read", "readRaw"] as const) {
          const t = cpu();
          let n = 0;
          for (let after = 0; ; ) {
            const page: ReadonlyArray<OutboxEntry | OutboxRawEntry> =
              mode === "read" ? store.outbox.read("cluster", after, 100, 2 << 20) : store.outbox.readRaw("cluster", after, 100, 2 << 20);
            if (page.length === 0) break;
            encodeEntries(page, suffix);
            n += page.length;
            after = page[page.length - 1]!.seq;
          }
          record(mode, (cpu() - t) / n);
        }
      }
      record(`confirm_${how}`, confirmAll(how));
      record(`update_after_${how}`, fill(store));
      record("update_without_outbox", fill(bare));
    }
  }
  const o = store.outbox;
  if (o.rangeFallbacks !== 0 || o.upToConfirms === 0 || o.rangeConfirms === 0) throw new Error("a confirm took another path");
} finally {
  store.close();
  bare.close();
  cleanup();
}
const us = (k: string) => +median(res[k]!).toFixed(2);
console.log(
  JSON.stringify({
    bench: "outbox-drain",
    entries: N,
    reps,
    loadAverage: (await Bun.file("/proc/loadavg").text()).trim(),
    cpuUsPerEntry: {
      read_plus_encode: us("read"),
      readRaw_plus_encode: us("readRaw"),
      confirm_range: us("confirm_upTo"),
      confirm_range_delete: us("confirm_range"),
      confirm_batched: us("confirm_batched"),
      update_after_confirm_range: us("update_after_upTo"),
      update_after_confirm_range_delete: us("update_after_range"),
      update_after_confirm_batched: us("update_after_batched"),
      update_without_outbox: us("update_without_outbox"),
    },
  }),
);
