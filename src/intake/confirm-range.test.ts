// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The streamer against the real (in-memory SQLite) store with a transport whose acknowledgements the
// test releases: an acknowledged stream is confirmed by seq range (the channel's confirmed-up-to seq
// moves), objects changed while it was in flight stay pending and go in the next stream, a confirmed
// object's next change goes as an UPDATE, and a stream that dropped an entry as too large confirms
// by (key, seq). Over gRPC + TLS the same flows are in test/intake/.

import { afterEach, expect, test } from "bun:test";
import { create, fromBinary } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { silentLogger } from "../log/logger.ts";
import { type ResourceRef, ResourceRefSchema, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { DeltaOperation, DeltaRequestSchema } from "../proto/gen/service/resource/v1/intake_pb.ts";
import { openStore } from "../store/index.ts";
import type { SqliteStore } from "../store/sqlite-store.ts";
import { ChannelStreamer, type DeltaCall, type DeltaTransport } from "./streamer.ts";
import type { CallOutcome } from "./transport.ts";

const CH = "cluster";
const TYPE = "k8s.io.api.core.v1.Pod";
const res = (name: string, v = 1, pad = 0) =>
  create(ResourceSchema, { type: { kind: "resource.v1.Resource", type: TYPE }, metadata: { name, region: `v${v}${"x".repeat(pad)}` } });
const refOf = (name: string): ResourceRef => create(ResourceRefSchema, { typeUrl: TYPE, name });

interface Delta {
  op: DeltaOperation;
  name: string;
  v: string;
}
interface HeldStream {
  deltas: Delta[];
  ended: boolean;
  release: () => void;
}
/** Records each stream's deltas; a stream's acknowledgement waits until the test releases it. */
class HeldTransport implements DeltaTransport {
  streams: HeldStream[] = [];
  open(): DeltaCall {
    const rec: HeldStream = { deltas: [], ended: false, release: () => undefined };
    this.streams.push(rec);
    let outcome: CallOutcome | undefined;
    let resolve!: (o: CallOutcome) => void;
    const done = new Promise<CallOutcome>((r) => (resolve = r));
    const settle = (o: CallOutcome) => {
      if (outcome) return;
      outcome = o;
      resolve(o);
    };
    rec.release = () => settle({ ok: true });
    return {
      done,
      get finished() {
        return outcome;
      },
      write(bytes) {
        for (const d of fromBinary(DeltaRequestSchema, bytes).deltas) {
          if (d.op === DeltaOperation.HEARTBEAT) continue;
          const v = d.objects[0]!.object!.value;
          const r = d.op === DeltaOperation.DELETE ? undefined : fromBinary(ResourceSchema, v);
          rec.deltas.push({ op: d.op, name: r?.metadata?.name ?? "", v: r?.metadata?.region.slice(0, 2) ?? "" });
        }
        return true;
      },
      waitDrain: async () => true,
      end() {
        rec.ended = true;
      },
      cancel() {
        settle({ ok: false, code: status.CANCELLED, codeName: "CANCELLED", details: "cancelled" });
      },
    };
  }
  recreate(): void {}
}

const running: ChannelStreamer[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop(AbortSignal.timeout(1_000))));
  for (const s of stores.splice(0)) s.close();
});
function setup(extra: Partial<ConstructorParameters<typeof ChannelStreamer>[0]> = {}) {
  const store = openStore({ dataDirectory: "", logger: silentLogger });
  stores.push(store);
  const transport = new HeldTransport();
  const s = new ChannelStreamer({
    channel: CH,
    outbox: store.outbox,
    transport,
    deltaVersion: "0123abcd",
    logger: silentLogger,
    ackIntervalMs: 10_000, // streams end when the outbox has been empty for idleEndMs
    idleEndMs: 5,
    lingerMs: 0,
    batchSize: 40,
    ...extra,
  });
  running.push(s);
  return { store, transport, streamer: s };
}
async function until(what: string, fn: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await Bun.sleep(2);
  }
}
const depth = (store: SqliteStore) => store.outbox.stats(CH).depth;
const pendingKeys = (store: SqliteStore) => store.outbox.readRaw(CH, 0, 1e6).map((e) => e.key);

test("an acknowledged stream is confirmed by seq range; objects changed while it was in flight stay pending and go next; confirmed objects change as UPDATEs", async () => {
  const { store, transport, streamer } = setup();
  // the first stream is a resync: hold it, so these entries are read (covered or sent) by the second one
  streamer.start();
  await until("first stream ended", () => transport.streams[0]?.ended === true);
  store.batch(() => {
    for (let i = 0; i < 300; i++) store.updateResource(res(`p${i}`));
  });
  transport.streams[0]!.release();
  await until("second stream ended", () => transport.streams[1]?.ended === true);
  const second = transport.streams[1]!;
  expect(second.deltas.filter((d) => d.op !== DeltaOperation.DELETE)).toHaveLength(300);
  // in flight: sent objects change and one is deleted (their entries get new seqs), a new one appears
  store.updateResource(res("p5", 2));
  store.updateResource(res("p299", 2));
  store.deleteResource(refOf("p7"));
  store.updateResource(res("new", 1));
  const moved = pendingKeys(store).filter((_, i, all) => i >= all.length - 4);
  expect(moved).toHaveLength(4);
  const confirms = store.outbox.upToConfirms;
  second.release();
  await until("second stream confirmed", () => depth(store) === 4);
  expect(store.outbox.upToConfirms).toBeGreaterThan(confirms);
  expect(store.outbox.rangeFallbacks).toBe(0);
  expect(pendingKeys(store).sort()).toEqual([...moved].sort());
  await until("third stream ended", () => transport.streams[2]?.ended === true);
  const third = transport.streams[2]!.deltas;
  // still CREATE: an update coalesced into a pending CREATE stays CREATE (the op rule of docs/store.md)
  expect(third.map((d) => [d.op, d.name, d.v]).sort()).toEqual(
    [
      [DeltaOperation.CREATE, "p5", "v2"],
      [DeltaOperation.CREATE, "p299", "v2"],
      [DeltaOperation.DELETE, "", ""],
      [DeltaOperation.CREATE, "new", "v1"],
    ].sort(),
  );
  transport.streams[2]!.release();
  await until("outbox empty", () => depth(store) === 0);
  expect(store.outbox.rangeFallbacks).toBe(0);
  expect(store.outbox.rangeConfirms).toBe(0); // every ack moved the confirmed-up-to seq
  // confirmed entries stay as done rows (one per live object); the confirmed DELETE's row is gone
  const rows = store.db.query("SELECT count(*) AS n, sum(op = 2) AS deletes FROM outbox WHERE channel = ?").get(CH) as {
    n: number;
    deletes: number;
  };
  expect(rows).toEqual({ n: 300, deletes: 0 });
  // a confirmed object's next change is an UPDATE (its done row is not a pending CREATE); a new one is a CREATE
  const next = transport.streams.length; // idle: no stream until something is pending
  store.batch(() => {
    store.updateResource(res("p1", 3));
    store.updateResource(res("p7", 3));
  });
  await until("next stream ended", () => transport.streams[next]?.ended === true);
  const last = transport.streams[next]!;
  expect(last.deltas.map((d) => [d.op, d.name, d.v]).sort()).toEqual(
    [
      [DeltaOperation.UPDATE, "p1", "v3"],
      [DeltaOperation.CREATE, "p7", "v3"],
    ].sort(),
  );
  last.release();
  await until("outbox empty again", () => depth(store) === 0);
});

test("a stream that dropped an entry as too large is confirmed by (key, seq); nothing else is lost", async () => {
  const { store, transport, streamer } = setup({ maxObjectBytes: 400 });
  streamer.start();
  await until("first stream ended", () => transport.streams[0]?.ended === true);
  store.batch(() => {
    for (let i = 0; i < 100; i++) store.updateResource(res(`p${i}`, 1, i === 50 ? 1000 : 0));
  });
  transport.streams[0]!.release();
  await until("second stream ended", () => transport.streams[1]?.ended === true);
  expect(transport.streams[1]!.deltas.map((d) => d.name)).not.toContain("p50");
  expect(transport.streams[1]!.deltas).toHaveLength(99);
  const confirms = store.outbox.rangeConfirms;
  store.updateResource(res("p9", 2)); // in flight
  transport.streams[1]!.release();
  await until("second stream confirmed", () => depth(store) === 1);
  expect(store.outbox.rangeConfirms).toBe(confirms);
  expect(store.outbox.rangeFallbacks).toBe(0);
  await until("third stream ended", () => transport.streams[2]?.ended === true);
  expect(transport.streams[2]!.deltas.map((d) => [d.name, d.v])).toEqual([["p9", "v2"]]);
  transport.streams[2]!.release();
  await until("outbox empty", () => depth(store) === 0);
});
