// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Crash test of the file store: a child writing batches is SIGKILLed mid-write, and every committed
// write is there after reopen, with the outbox agreeing.

import { expect, test } from "bun:test";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { silentLogger } from "../../src/log/logger.ts";
import { RelationshipSchema } from "../../src/proto/gen/resource/v1/relationship_pb.ts";
import { openStore, ResourceNotFoundError, type SqliteStore } from "../../src/store/index.ts";
import { CORE, kubeRef, POD, tempDir } from "./fixtures.ts";

const PER = 40;
const KEEP = 5;
const BUN = process.execPath;

/** Starts the child, waits until it reported `minCommits` commits plus a random delay, SIGKILLs it. */
async function runAndKill(dir: string, minCommits: number): Promise<number> {
  const child = Bun.spawn([BUN, join(import.meta.dir, "crash-child.ts"), dir], { stdout: "pipe", stderr: "pipe" });
  const reader = child.stdout.getReader();
  const dec = new TextDecoder();
  let buf = "";
  let seen = 0;
  let last = -1;
  while (seen < minCommits) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`child exited early: ${await new Response(child.stderr).text()}`);
    buf += dec.decode(value);
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = /^committed (\d+)$/.exec(line);
      if (m) {
        last = Number(m[1]);
        seen++;
      }
    }
  }
  await Bun.sleep(Math.random() * 15);
  child.kill("SIGKILL");
  // drain what the child printed before it died: those batches committed too
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value);
  }
  for (const m of buf.matchAll(/committed (\d+)\n/g)) last = Math.max(last, Number(m[1]));
  expect(await child.exited).not.toBe(0);
  return last;
}

function verify(store: SqliteStore, lastReported: number): number {
  const M = Number(store.getResource(kubeRef(POD, "shared-0")).metadata!.region);
  expect(M).toBeGreaterThanOrEqual(lastReported); // every reported commit is there
  for (let j = 0; j < PER; j++) expect(store.getResource(kubeRef(POD, `shared-${j}`)).metadata!.region).toBe(String(M)); // atomic batches
  for (let i = Math.max(0, M - KEEP - 2); i <= M; i++) {
    for (const j of [0, PER - 1]) {
      const live = i > M - KEEP;
      for (const type of [POD, CORE]) {
        const name = `${type === POD ? "b" : "c"}${i}-${j}`;
        if (live) expect(store.getResource(kubeRef(type, name)).metadata!.name).toBe(name);
        else expect(() => store.getResource(kubeRef(type, name))).toThrow(ResourceNotFoundError);
      }
    }
  }
  const { resources, relationships } = store.counts();
  const liveBatches = Math.min(KEEP, M + 1);
  expect(resources).toBe(PER + 2 * PER * liveBatches);
  expect(relationships).toBe(PER * liveBatches);

  // outbox agrees with the tables
  for (const ch of ["cluster", "instance"]) {
    const st = store.outbox.stats(ch);
    const all = store.outbox.read(ch, 0, 1_000_000);
    expect(all.length).toBe(st.depth); // no entry lost its row
    expect(all.reduce((a, e) => a + e.bytes, 0)).toBe(st.bytes); // trigger-kept counters match
    // pending rows: above the channel's confirmed-up-to seq (rows at or below it are done)
    const upTo =
      (store.db.query("SELECT CAST(v AS INTEGER) AS u FROM meta WHERE k = ?").get(`confirmed:${ch}`) as { u: number } | null)?.u ?? 0;
    const raw = store.db
      .query("SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM outbox WHERE channel = ? AND seq > ?")
      .get(ch, upTo) as {
      n: number;
      b: number;
    };
    expect(raw).toEqual({ n: st.depth, b: st.bytes });
    // a done row is the confirmed state of a live object (confirmed deletes leave no row)
    const doneOrphans = store.db
      .query(
        `SELECT count(*) AS n FROM outbox o WHERE channel = ? AND seq <= ? AND (op = 2 OR (entity = 0 AND NOT EXISTS (SELECT 1 FROM resources r WHERE r.rid = o.rid)))`,
      )
      .get(ch, upTo) as { n: number };
    expect(doneOrphans.n).toBe(0);
    // batch 0 (reported committed) confirmed "instance" by range: the mark moved
    if (ch === "instance") expect(upTo).toBeGreaterThan(0);
    for (const e of all) {
      if (e.op === "DELETE") {
        if (e.key.startsWith("rel:")) {
          const rel = fromBinary(RelationshipSchema, e.object.object!.value);
          expect(rel.deletedAt).toBeDefined();
        } else {
          expect(store.db.query("SELECT 1 FROM resources WHERE key = ?").get(e.key)).toBeNull();
        }
      } else if (!e.key.startsWith("rel:")) {
        expect(store.db.query("SELECT 1 FROM resources WHERE key = ?").get(e.key)).not.toBeNull();
      }
    }
  }
  // nothing of "cluster" is ever confirmed: every live cluster object has a pending CREATE/UPDATE
  const pendingLive = store.db
    .query(
      `SELECT (SELECT count(*) FROM resources WHERE channel = 'cluster') + (SELECT count(*) FROM relationships WHERE channel = 'cluster') AS live,
              (SELECT count(*) FROM outbox WHERE channel = 'cluster' AND op != 2) AS pending`,
    )
    .get() as { live: number; pending: number };
  expect(pendingLive.pending).toBe(pendingLive.live);
  // every deleted cluster pod (batches <= M-KEEP) has a pending DELETE
  const deletes = store.db
    .query("SELECT count(*) AS n FROM outbox WHERE channel = 'cluster' AND op = 2 AND key NOT LIKE 'rel:%'")
    .get() as { n: number };
  expect(deletes.n).toBe(PER * Math.max(0, M + 1 - KEEP));
  return M;
}

test("SIGKILL in the middle of batches: every committed write is there and the outbox agrees", async () => {
  const { dir, cleanup } = tempDir("store-crash-");
  try {
    let prev = -1;
    for (let round = 0; round < 4; round++) {
      const last = await runAndKill(dir, 8 + round * 3);
      const store = openStore({ dataDirectory: dir, logger: silentLogger });
      try {
        const M = verify(store, last);
        expect(M).toBeGreaterThan(prev);
        prev = M;
      } finally {
        store.close();
      }
    }
  } finally {
    cleanup();
  }
}, 60_000);
