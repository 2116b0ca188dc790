// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * One LIST+WATCH loop per kind, in the Kubernetes protobuf encoding.
 *  - LIST (paginated) once at start and only again after 410 Gone; never periodically.
 *  - WATCH from the last seen resourceVersion with allowWatchBookmarks; a closed watch or a network
 *    error resumes from the last RV (bookmarks keep it fresh), with jittered exponential backoff.
 *  - 410 (HTTP status or ERROR event) relists and diffs against the local cache: only new or
 *    changed objects (by resourceVersion) are emitted, and vanished ones become deletes, so a
 *    relist after an apiserver restart uploads nothing that did not change.
 *  - The cache holds only key -> resourceVersion (object bytes go straight to the graph), within a
 *    per-kind byte budget.
 *  - Object bytes are passed through as received, with metadata.managedFields removed on the wire.
 */

import type { Logger } from "../log/logger.ts";
import { KubeApiError, PROTOBUF, PROTOBUF_WATCH, type KubeClient } from "./client/client.ts";
import { collectionPath, type KindSpec } from "./kinds.ts";
import { kubeMetrics } from "./metrics.ts";
import {
  decodeEnvelope,
  dropNested,
  eachField,
  findAllLen,
  findLen,
  getString,
  getVarint,
  hasMagic,
  readObjectMeta,
  readResourceVersion,
  str,
  type ObjectMeta,
} from "./pb.ts";
import { meterBound, type BoundMeter } from "../metrics/registry.ts";
import { sleep } from "../util/sleep.ts";

export interface KubeObject {
  spec: KindSpec;
  /** namespace/name or name. */
  key: string;
  meta: ObjectMeta;
  /** Kubernetes protobuf bytes of the object, managedFields removed. */
  raw: Uint8Array;
}

export type ReflectorEvent = { type: "upsert"; obj: KubeObject } | { type: "delete"; spec: KindSpec; key: string; obj?: KubeObject };

export interface ReflectorSink {
  /** Resolves when the sink accepted the events (backpressure: the reflector waits). */
  push(events: ReflectorEvent[]): Promise<void>;
}

export interface ReflectorOptions {
  client: KubeClient;
  spec: KindSpec;
  sink: ReflectorSink;
  logger: Logger;
  /** LIST page size. */
  pageSize?: number;
  /** Bytes of cache bookkeeping allowed for this kind. */
  budgetBytes?: number;
  /** Server-side watch timeout range in seconds [min, 2*min). */
  watchTimeoutSeconds?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Per LIST page (default 120 s). */
  listTimeoutMs?: number;
  /** Restrict the watch (e.g. fieldSelector for one node). */
  fieldSelector?: string;
  /** Clock for tests. */
  random?: () => number;
  /** Called after every completed LIST (initial = the first one). */
  onListed?: (initial: boolean) => void;
}

const MANAGED_FIELDS = 17;

/** The graph could not take the events (store failure): what the cache says was seen is not stored. */
class SinkError extends Error {
  constructor(readonly inner: unknown) {
    super(`graph write failed: ${String((inner as Error)?.message ?? inner)}`);
    this.name = "SinkError";
  }
}

class GoneError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = "GoneError";
  }
}

export function objectKey(meta: ObjectMeta): string {
  return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
}

export class Reflector {
  private readonly cache = new Map<string, string>();
  private cacheBytes = 0;
  private lastRV = "";
  private abort = new AbortController();
  private running: Promise<void> | undefined;
  private syncedResolve!: () => void;
  /** Resolves after the first LIST has been pushed to the sink. */
  readonly synced: Promise<void>;
  private isSynced = false;
  private readonly meter: BoundMeter;
  private readonly log: Logger;
  private readonly budget: number;
  private overBudgetLogged = false;
  private attempt = 0;

  constructor(private readonly o: ReflectorOptions) {
    this.synced = new Promise((r) => (this.syncedResolve = r));
    this.log = o.logger.child({ kind: o.spec.kind });
    this.budget = o.budgetBytes ?? 64 * 1024 * 1024;
    this.meter = meterBound(`kube_cache_${o.spec.kind}`, this.budget);
  }

  get kind(): string {
    return this.o.spec.kind;
  }

  hasSynced(): boolean {
    return this.isSynced;
  }

  size(): number {
    return this.cache.size;
  }

  resourceVersion(): string {
    return this.lastRV;
  }

  /** Keys currently known (for the post-sync sweep). */
  keys(): IterableIterator<string> {
    return this.cache.keys();
  }

  start(): void {
    if (this.running) return;
    this.abort = new AbortController();
    this.running = this.loop(this.abort.signal).catch((err) => {
      if (!this.abort.signal.aborted) this.log.error({ err: String(err) }, "reflector stopped");
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    this.running = undefined;
  }

  private async loop(signal: AbortSignal): Promise<void> {
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.list(signal);
          needList = false;
        }
        await this.watch(signal);
        this.attempt = 0; // a watch that ended cleanly (server timeout) resumes at once
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof GoneError || (err instanceof KubeApiError && err.status === 410)) {
          kubeMetrics.relists.inc({ kind: this.kind, reason: "gone" });
          this.log.info({ rv: this.lastRV }, "resourceVersion too old (410); relisting");
          needList = true;
          continue; // relist at once: the data is still there, only the RV expired
        }
        if (err instanceof SinkError) {
          // mark every object unseen (keeping the keys, so vanished ones still become deletes): the
          // relist after the backoff offers every object to the graph again
          for (const [key, rv] of this.cache) {
            this.cacheBytes -= 2 * rv.length;
            this.cache.set(key, "");
          }
          needList = true;
          kubeMetrics.relists.inc({ kind: this.kind, reason: "graph_write_failed" });
        }
        const reason = err instanceof KubeApiError ? `http_${err.status}` : err instanceof SinkError ? "graph_write_failed" : "error";
        if (needList && !this.isSynced && err instanceof KubeApiError && (err.status === 403 || err.status === 404)) {
          // not served by this cluster, or not allowed: do not hold up readiness; keep retrying slowly
          this.log.error({ err: err.message }, err.status === 404 ? "kind not served by the apiserver" : "not allowed to list kind (RBAC)");
          this.isSynced = true;
          this.syncedResolve();
          this.attempt = 16;
        }
        kubeMetrics.watchRestarts.inc({ kind: this.kind, reason });
        const delay = this.backoff();
        this.log.warn({ err: String((err as Error).message ?? err), retryInMs: delay }, needList ? "list failed" : "watch failed");
        await sleep(delay, signal);
      }
    }
  }

  /** Jittered exponential backoff: base * 2^attempt, capped, times a factor in [0.5, 1.5). */
  private backoff(): number {
    const base = this.o.backoffBaseMs ?? 800;
    const max = this.o.backoffMaxMs ?? 30_000;
    const d = Math.min(max, base * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 16);
    const r = (this.o.random ?? Math.random)();
    return Math.round(d * (0.5 + r));
  }

  private query(extra: Record<string, string>): string {
    const q = new URLSearchParams(extra);
    if (this.o.fieldSelector) q.set("fieldSelector", this.o.fieldSelector);
    return `${collectionPath(this.o.spec)}?${q.toString()}`;
  }

  private async list(signal: AbortSignal): Promise<void> {
    const started = performance.now();
    const seen = new Set<string>();
    const limit = String(this.o.pageSize ?? 500);
    let cont = "";
    let rv = "";
    let count = 0;
    let events: ReflectorEvent[] = [];
    do {
      const params: Record<string, string> = { limit };
      if (cont) params.continue = cont;
      // a page that never completes (a stuck consistent read) must not stall the kind forever
      const pageSignal = AbortSignal.any([signal, AbortSignal.timeout(this.o.listTimeoutMs ?? 120_000)]);
      const body = await this.o.client.getBytes(this.query(params), PROTOBUF, pageSignal);
      const env = decodeEnvelope(body);
      const list = env.raw;
      const listMeta = findLen(list, 0, list.length, 1);
      rv = getString(list, listMeta, 2);
      cont = getString(list, listMeta, 3);
      for (const item of findAllLen(list, 0, list.length, 2)) {
        const obj = this.toObject(list.subarray(item.start, item.end));
        count++;
        seen.add(obj.key);
        if (this.cache.get(obj.key) === obj.meta.resourceVersion) continue;
        if (!this.remember(obj.key, obj.meta.resourceVersion)) continue;
        events.push({ type: "upsert", obj });
        if (events.length >= 256) {
          await this.deliver(events);
          events = [];
        }
      }
    } while (cont && !signal.aborted);
    for (const key of [...this.cache.keys()]) {
      if (!seen.has(key)) {
        this.forget(key);
        events.push({ type: "delete", spec: this.o.spec, key });
      }
    }
    if (events.length) await this.deliver(events);
    this.lastRV = rv;
    kubeMetrics.progress(this.kind);
    kubeMetrics.objects.set({ kind: this.kind }, this.cache.size);
    this.log.info({ objects: count, rv, ms: Math.round(performance.now() - started) }, "listed");
    const initial = !this.isSynced;
    if (!this.isSynced) {
      this.isSynced = true;
      this.syncedResolve();
    }
    this.o.onListed?.(initial);
  }

  private async deliver(events: ReflectorEvent[]): Promise<void> {
    try {
      await this.o.sink.push(events);
    } catch (err) {
      throw new SinkError(err);
    }
  }

  private remember(key: string, rv: string): boolean {
    const prev = this.cache.get(key);
    const delta = prev === undefined ? 2 * (key.length + rv.length) + 64 : 2 * (rv.length - prev.length);
    if (prev === undefined && this.cacheBytes + delta > this.budget) {
      this.meter.dropped("over_budget");
      if (!this.overBudgetLogged) {
        this.overBudgetLogged = true;
        this.log.warn({ budgetBytes: this.budget }, "kind over its memory budget; new objects are not tracked");
      }
      return false;
    }
    this.cache.set(key, rv);
    this.cacheBytes += delta;
    this.meter.depth(this.cacheBytes);
    return true;
  }

  private forget(key: string): void {
    const prev = this.cache.get(key);
    if (prev === undefined) return;
    this.cache.delete(key);
    this.cacheBytes -= 2 * (key.length + prev.length) + 64;
    this.meter.depth(this.cacheBytes);
  }

  private toObject(bytes: Uint8Array): KubeObject {
    const raw = dropNested(bytes, 1, MANAGED_FIELDS);
    const meta = readObjectMeta(raw);
    // may be a view into the LIST page / stream chunk: objects are written to the store and dropped
    // within the batch, so the page is freed right after (no per-object copy)
    return { spec: this.o.spec, key: objectKey(meta), meta, raw };
  }

  private async watch(signal: AbortSignal): Promise<void> {
    const minTimeout = this.o.watchTimeoutSeconds ?? 300;
    const timeout = Math.floor(minTimeout * (1 + (this.o.random ?? Math.random)()));
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    // stop() may have run while the LIST was being delivered: an already-aborted signal never fires
    if (signal.aborted) return;
    signal.addEventListener("abort", onAbort, { once: true });
    let lastData = Date.now();
    // a silently dead TCP connection: the server closes after `timeout`, so no data well past it means dead
    const watchdog = setInterval(() => {
      if (Date.now() - lastData > (timeout + 60) * 1000) ac.abort();
    }, 5000);
    try {
      const res = await this.o.client.request(
        this.query({ watch: "1", resourceVersion: this.lastRV, allowWatchBookmarks: "true", timeoutSeconds: String(timeout) }),
        { accept: PROTOBUF_WATCH, signal: ac.signal, noTimeout: true },
      );
      kubeMetrics.progress(this.kind);
      const reader = res.body!.getReader();
      let buf = new Uint8Array(0);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        lastData = Date.now();
        buf = buf.length ? concat(buf, value) : value;
        let off = 0;
        const batch: ReflectorEvent[] = [];
        while (buf.length - off >= 4) {
          const len = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
          if (buf.length - off - 4 < len) break;
          const ev = this.handleFrame(buf.subarray(off + 4, off + 4 + len));
          if (ev) batch.push(ev);
          off += 4 + len;
        }
        buf = off === buf.length ? new Uint8Array(0) : buf.slice(off);
        if (batch.length) {
          await this.deliver(batch);
          this.attempt = 0;
        }
        kubeMetrics.objects.set({ kind: this.kind }, this.cache.size);
      }
    } finally {
      clearInterval(watchdog);
      signal.removeEventListener("abort", onAbort);
    }
  }

  private handleFrame(frame: Uint8Array): ReflectorEvent | undefined {
    // the stream serializer writes each WatchEvent raw (no envelope); the object inside has one
    const we = hasMagic(frame) ? decodeEnvelope(frame).raw : frame;
    let type = "";
    let objBytes: Uint8Array | undefined;
    eachField(we, 0, we.length, (f) => {
      if (f.num === 1) type = str(we, f);
      else if (f.num === 2) {
        const rawExt = findLen(we, f.start, f.end, 1);
        if (rawExt) objBytes = we.subarray(rawExt.start, rawExt.end);
      }
    });
    if (!objBytes) throw new Error(`watch event ${type} without object`);
    const inner = hasMagic(objBytes) ? decodeEnvelope(objBytes).raw : objBytes;
    kubeMetrics.watchEvents.inc({ kind: this.kind, type });
    kubeMetrics.progress(this.kind);
    switch (type) {
      case "ADDED":
      case "MODIFIED": {
        const obj = this.toObject(inner);
        this.lastRV = obj.meta.resourceVersion || this.lastRV;
        if (this.cache.get(obj.key) === obj.meta.resourceVersion) return undefined;
        if (!this.remember(obj.key, obj.meta.resourceVersion)) return undefined;
        return { type: "upsert", obj };
      }
      case "DELETED": {
        const obj = this.toObject(inner);
        this.lastRV = obj.meta.resourceVersion || this.lastRV;
        if (!this.cache.has(obj.key)) return undefined;
        this.forget(obj.key);
        return { type: "delete", spec: this.o.spec, key: obj.key, obj };
      }
      case "BOOKMARK": {
        const rv = readResourceVersion(inner);
        if (rv) this.lastRV = rv;
        return undefined;
      }
      case "ERROR": {
        // metav1.Status: message=3, reason=4, code=6
        const all = { start: 0, end: inner.length };
        const code = getVarint(inner, all, 6);
        const message = getString(inner, all, 3);
        if (code === 410) throw new GoneError(message || "resource version too old");
        throw new KubeApiError(code || 500, getString(inner, all, 4), `watch error: ${message}`);
      }
      default:
        throw new Error(`unknown watch event type ${JSON.stringify(type)}`);
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
