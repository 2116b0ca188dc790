// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// bench/store/outbox-drain: CPU per outbox entry of the intake's store work,
// on a file store holding N pending 1 KiB resources:
//   read:    outbox.read (protobuf-es messages) + encodeEntries   vs   outbox.readRaw + encodeEntries
//   confirm: batched (key, seq) confirm (one statement per 500 entries), and the range confirm the
//            intake uses for a stream read as one contiguous range (confirm with readAfter, one range
//            DELETE per 2000-entry chunk, as src/intake/streamer.ts#confirmChunked); alternating order
//   bun bench/store/outbox-drain.ts [--n 20000] [--reps 3]
// Prints one JSON object (medians over reps; CPU = this process's user+sys time).

import { parseArgs } from "node:util";
import { encodeEntries, objectSuffix } from "../../src/intake/wire.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { type OutboxEntry, type OutboxRawEntry, openStore } from "../../src/store/index.ts";
import { POD, resource, tempDir } from "../../test/store/fixtures.ts";

const { values: a } = parseArgs({ options: { n: { type: "string", default: "20000" }, reps: { type: "string", default: "3" } } });
const N = Number(a.n);
const reps = Number(a.reps);
const { dir, cleanup } = tempDir("outbox-drain-");
const store = openStore({ dataDirectory: dir, logger: silentLogger });
const suffix = objectSuffix(300_000, "abcdabcd");
const cpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
let gen = 0;
function fill(): void {
  gen++;
  for (let i = 0; i < N; i += 500)
    store.batch(() => {
      for (let j = i; j < Math.min(N, i + 500); j++) store.updateResource(resource(POD, `p${j}`, `g${gen}`, 1024));
    });
}

const res: Record<string, number[]> = { read: [], readRaw: [], confirm: [], confirmRange: [] };
/** Confirms everything pending, read in 2000-entry chunks as a stream would; returns CPU us per entry. */
function confirmAll(range: boolean): number {
  const entries = store.outbox.read("cluster", 0, N);
  const t = cpu();
  let n = 0;
  let after = 0;
  for (let i = 0; i < entries.length; i += 2000) {
    const part = entries.slice(i, i + 2000);
    n += range ? store.outbox.confirm("cluster", part, after) : store.outbox.confirm("cluster", part);
    after = part.at(-1)!.seq;
  }
  const us = (cpu() - t) / n;
  if (n !== N) throw new Error(`confirmed ${n} of ${N}`);
  return us;
}
try {
  for (let r = 0; r < reps; r++) {
    fill();
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
      res[mode]!.push((cpu() - t) / n);
    }
    // both confirms on a freshly filled outbox, in alternating order
    const [first, second] = r % 2 === 0 ? [false, true] : [true, false];
    res[first ? "confirmRange" : "confirm"]!.push(confirmAll(first));
    fill();
    res[second ? "confirmRange" : "confirm"]!.push(confirmAll(second));
  }
  if (store.outbox.rangeFallbacks !== 0) throw new Error("range confirm fell back");
} finally {
  store.close();
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
      confirm_batched: us("confirm"),
      confirm_range: us("confirmRange"),
    },
  }),
);
