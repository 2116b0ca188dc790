// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the streamer's state machine with an in-memory outbox and a scripted transport.
// The same behaviours are tested end to end over gRPC + TLS with the real store in test/intake/.

import { afterEach, expect, test } from "bun:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { silentLogger } from "../log/logger.ts";
import { ObjectSchema, TypeDescriptorSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { DeltaOperation, DeltaRequestSchema } from "../proto/gen/service/resource/v1/intake_pb.ts";
import type { OutboxOp, OutboxRawEntry, OutboxStats } from "../store/types.ts";
import { ChannelStreamer, type DeltaCall, type DeltaTransport, type SentRef, type UploadOutbox } from "./streamer.ts";
import type { CallOutcome } from "./transport.ts";

const CH = "cluster";
const dec = new TextDecoder();

/** The outbox's raw reads, as the store gives them: each entry's complete encoded Object. */
class FakeOutbox implements UploadOutbox {
  private seq = 0;
  pending = new Map<string, OutboxRawEntry>();
  state = new Map<string, Uint8Array>();
  private listeners = new Set<(ch: string) => void>();
  resyncFlag = false;

  put(key: string, op: OutboxOp = "UPDATE"): void {
    const encoded = toBinary(
      ObjectSchema,
      create(ObjectSchema, {
        type: create(TypeDescriptorSchema, { kind: "resource.v1.Resource", type: "k8s.io.api.core.v1.Pod" }),
        object: create(AnySchema, { typeUrl: "type.googleapis.com/resource.v1.Resource", value: new TextEncoder().encode(key) }),
      }),
    );
    if (op === "DELETE") this.state.delete(key);
    else this.state.set(key, encoded);
    this.pending.set(key, { seq: ++this.seq, channel: CH, key, op, encoded, bytes: 100, enqueuedAt: Date.now() });
    for (const l of this.listeners) l(CH);
  }
  readRaw(_ch: string, afterSeq: number, limit: number): OutboxRawEntry[] {
    return [...this.pending.values()]
      .filter((e) => e.seq > afterSeq)
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit);
  }
  newestSeq(): number {
    return Math.max(0, ...[...this.pending.values()].map((e) => e.seq));
  }
  confirm(_ch: string, entries: ReadonlyArray<Pick<OutboxRawEntry, "key" | "seq">>): number {
    let n = 0;
    for (const e of entries)
      if (this.pending.get(e.key)?.seq === e.seq) {
        this.pending.delete(e.key);
        n++;
      }
    return n;
  }
  stats(): OutboxStats {
    return { depth: this.pending.size, bytes: this.pending.size * 100, oldestEnqueuedAt: undefined };
  }
  *snapshotRaw(_ch: string, pageSize: number): Iterable<OutboxRawEntry[]> {
    const all = [...this.state.entries()].map(([key, encoded]) => ({
      seq: 0,
      channel: CH,
      key,
      op: "CREATE" as const,
      encoded,
      bytes: 100,
      enqueuedAt: 0,
    }));
    for (let i = 0; i < all.length; i += pageSize) yield all.slice(i, i + pageSize);
  }
  onAppend(l: (ch: string) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  needsResync(): boolean {
    return this.resyncFlag;
  }
  clearResync(): void {
    this.resyncFlag = false;
  }
}

interface Seen {
  op: DeltaOperation;
  key: string;
}
type Verdict = "ok" | "never" | { code: number };

/** Every call records the deltas written to it; `script` decides its fate when the client half-closes. */
class FakeTransport implements DeltaTransport {
  streams: Array<{ deltas: Seen[]; outcome?: CallOutcome }> = [];
  recreated: string[] = [];
  constructor(public script: (index: number, deltas: Seen[]) => Verdict) {}
  open(): DeltaCall {
    const rec: { deltas: Seen[]; outcome?: CallOutcome } = { deltas: [] };
    const index = this.streams.push(rec) - 1;
    let resolve!: (o: CallOutcome) => void;
    const done = new Promise<CallOutcome>((r) => (resolve = r));
    const settle = (o: CallOutcome) => {
      if (rec.outcome) return;
      rec.outcome = o;
      resolve(o);
    };
    const script = this.script;
    return {
      done,
      get finished() {
        return rec.outcome;
      },
      write(bytes) {
        for (const d of fromBinary(DeltaRequestSchema, bytes).deltas)
          rec.deltas.push({ op: d.op, key: d.op === DeltaOperation.HEARTBEAT ? "" : dec.decode(d.objects[0]!.object!.value) });
        return true;
      },
      waitDrain: async () => true,
      end() {
        const v = script(index, rec.deltas);
        if (v === "never") return;
        setTimeout(
          () => settle(v === "ok" ? { ok: true } : { ok: false, code: v.code, codeName: status[v.code] ?? "?", details: "scripted" }),
          0,
        );
      },
      cancel() {
        settle({ ok: false, code: status.CANCELLED, codeName: "CANCELLED", details: "cancelled" });
      },
    };
  }
  recreate(reason: string): void {
    this.recreated.push(reason);
  }
  acked(): Seen[] {
    return this.streams.filter((s) => s.outcome?.ok).flatMap((s) => s.deltas);
  }
}

const FAST = { initialMs: 1, multiplier: 1, maxMs: 1, jitter: 0 };
let running: ChannelStreamer[] = [];
function streamer(
  outbox: UploadOutbox,
  transport: DeltaTransport,
  extra: Partial<ConstructorParameters<typeof ChannelStreamer>[0]> = {},
): ChannelStreamer {
  const s = new ChannelStreamer({
    channel: CH,
    outbox,
    transport,
    deltaVersion: "0123abcd",
    logger: silentLogger,
    ackIntervalMs: 20,
    idleEndMs: 5,
    lingerMs: 0,
    backoff: FAST,
    permanentBackoff: FAST,
    ...extra,
  });
  running.push(s);
  s.start();
  return s;
}
afterEach(async () => {
  await Promise.all(running.map((s) => s.stop(AbortSignal.timeout(1_000))));
  running = [];
});

async function until(what: string, fn: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await Bun.sleep(2);
  }
}

test("entries are confirmed only by an OK response; a failed stream confirms nothing and its entries go again", async () => {
  const ob = new FakeOutbox();
  for (let i = 0; i < 10; i++) ob.put(`k${i}`);
  const t = new FakeTransport((i) => (i === 1 ? { code: status.UNAVAILABLE } : "ok"));
  // stream 0: resync (snapshot; pending entries covered), stream 1: fails, stream 2: ok
  const s = streamer(ob, t);
  await until("resync acked", () => s.stats().resyncs === 1);
  for (let i = 10; i < 15; i++) ob.put(`k${i}`);
  await until("drained", () => ob.pending.size === 0);
  expect(t.streams[1]!.outcome?.ok).toBe(false);
  const failedKeys = t.streams[1]!.deltas.filter((d) => d.key).map((d) => d.key);
  expect(failedKeys).toEqual(["k10", "k11", "k12", "k13", "k14"]);
  expect(t.streams[2]!.deltas.filter((d) => d.key).map((d) => d.key)).toEqual(failedKeys);
  // the snapshot carried k0..k9 once; the pending entries it covered were confirmed, not resent
  expect(t.acked().filter((d) => d.key && Number(d.key.slice(1)) < 10)).toHaveLength(10);
});

test("INVALID_ARGUMENT isolates the offending entry by halving, drops exactly it, and delivers the rest", async () => {
  const ob = new FakeOutbox();
  const t = new FakeTransport((_i, deltas) => (deltas.some((d) => d.key === "k37") ? { code: status.INVALID_ARGUMENT } : "ok"));
  const dropped: SentRef[] = [];
  const s = streamer(ob, t, { onDropped: (es) => dropped.push(...es) });
  await until("resync acked", () => s.stats().resyncs === 1);
  for (let i = 0; i < 64; i++) ob.put(`k${i}`);
  await until("drained", () => ob.pending.size === 0);
  expect(dropped.map((d) => d.key)).toEqual(["k37"]);
  const delivered = new Set(t.acked().map((d) => d.key));
  for (let i = 0; i < 64; i++) expect(delivered.has(`k${i}`)).toBe(i !== 37);
  expect(t.streams.length).toBeLessThan(30); // logarithmic search, not one stream per entry
  expect(s.stats().dropped).toBe(1);
});

test("heartbeats follow the interval while idle; no acknowledged heartbeat within the TTL forces a resync", async () => {
  const ob = new FakeOutbox();
  ob.put("a");
  let down = false;
  const t = new FakeTransport(() => (down ? { code: status.UNAVAILABLE } : "ok"));
  const s = streamer(ob, t, { heartbeatIntervalMs: 30, ttlMs: 200, resyncMarginMs: 20 });
  await Bun.sleep(200);
  const beats = t.acked().filter((d) => d.op === DeltaOperation.HEARTBEAT).length;
  expect(beats).toBeGreaterThanOrEqual(4);
  expect(beats).toBeLessThanOrEqual(9);
  expect(s.stats().resyncs).toBe(1);
  down = true;
  await Bun.sleep(250);
  down = false;
  await until("second resync", () => s.stats().resyncs === 2);
  // the resync stream re-sent the state ("a") after a heartbeat
  const last = t.streams.findLast((x) => x.outcome?.ok && x.deltas.some((d) => d.key === "a"))!;
  expect(last.deltas[0]!.op).toBe(DeltaOperation.HEARTBEAT);
});

test("watchdog: a response that never comes cancels the call and recreates the channel", async () => {
  const ob = new FakeOutbox();
  const t = new FakeTransport((i) => (i === 1 ? "never" : "ok"));
  const s = streamer(ob, t, { ackTimeoutMs: 50 });
  await until("resync acked", () => s.stats().resyncs === 1);
  ob.put("x");
  await until("drained", () => ob.pending.size === 0);
  expect(t.recreated).toEqual(["ack_timeout"]);
  expect(t.streams[1]!.outcome).toMatchObject({ ok: false, codeName: "CANCELLED" });
  expect(s.stats().resetsByCode.WATCHDOG).toBe(1);
});

test("stop() during a long backoff returns promptly", async () => {
  const ob = new FakeOutbox();
  ob.put("x");
  const t = new FakeTransport(() => ({ code: status.UNAVAILABLE }));
  const s = streamer(ob, t, { backoff: { initialMs: 60_000, multiplier: 1, maxMs: 60_000, jitter: 0 } });
  await until("first failure", () => s.stats().streamsFailed === 1);
  const t0 = performance.now();
  await s.stop(AbortSignal.timeout(1_000));
  expect(performance.now() - t0).toBeLessThan(200);
  expect(ob.pending.size).toBe(1);
});

test("the store's resync flag (cap drop) triggers a full resync and is cleared", async () => {
  const ob = new FakeOutbox();
  ob.put("a");
  const t = new FakeTransport(() => "ok");
  const s = streamer(ob, t);
  await until("startup resync", () => s.stats().resyncs === 1);
  ob.resyncFlag = true;
  ob.put("b");
  await until("cap resync", () => s.stats().resyncs === 2);
  expect(ob.resyncFlag).toBe(false);
});
