// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * One LIST+WATCH loop per kind, in the Kubernetes protobuf encoding: the policy (when to list,
 * watch, relist, back off; the cache). The calls are a ListerWatcher (lister-watcher.ts) and the
 * bytes are decoded by watch-decoder.ts.
 *  - LIST (paginated) once at start and only again after 410 Gone; never periodically.
 *  - WATCH from the last seen resourceVersion with allowWatchBookmarks; a closed watch or a network
 *    error resumes from the last RV (bookmarks keep it fresh), with jittered exponential backoff.
 *  - 410 (HTTP status or ERROR event) relists and diffs against the local cache: only new or
 *    changed objects (by resourceVersion) are emitted, and vanished ones become deletes, so a
 *    relist after an apiserver restart uploads nothing that did not change.
 *  - The cache holds only key -> resourceVersion (object bytes go straight to the graph), within a
 *    per-kind byte budget; a resourceVersion that is a plain decimal (etcd's revisions) is kept as a
 *    number (no string per object).
 *  - Object bytes are passed through as received, with metadata.managedFields removed on the wire.
 */

import type { Logger } from "../log/logger.ts";
import { type BoundMeter, meterBound } from "../metrics/registry.ts";
import { Backoff } from "../util/backoff.ts";
import { errorMessage } from "../util/errors.ts";
import { sleep } from "../util/sleep.ts";
import { KubeApiError, type KubeClient } from "./client/client.ts";
import type { KindSpec } from "./kinds.ts";
import type { ListSlots } from "./list-slots.ts";
import { kubeListerWatcher, type ListerWatcher } from "./lister-watcher.ts";
import { kubeMetrics } from "./metrics.ts";
import { dropNested, type ObjectMeta, readObjectMeta, readResourceVersion } from "./pb.ts";
import { decodeListPage, decodeStatus, decodeWatchFrame, FrameSplitter } from "./watch-decoder.ts";

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
  /** LIST and WATCH of the kind (default: on `client`, with `fieldSelector`). */
  listerWatcher?: ListerWatcher;
  sink: ReflectorSink;
  logger: Logger;
  /** LIST page size. */
  pageSize?: number;
  /** Bytes of cache bookkeeping allowed for this kind. */
  budgetBytes?: number;
  /** Server-side watch timeout range in seconds [min, 2*min). */
  watchTimeoutSeconds?: number;
  /** Retry waits: base * 2^attempt capped at max, times [0.5, 1.5) (defaults 800 ms, 30 s). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Per LIST page (default 120 s). */
  listTimeoutMs?: number;
  /** Restrict the watch (e.g. fieldSelector for one node). */
  fieldSelector?: string;
  /** Randomness of the backoff jitter and the watch timeout, for tests. */
  random?: () => number;
  /** Called after every completed LIST (initial = the first one). */
  onListed?: (initial: boolean) => void;
  /** Shared bound on LIST requests in flight (each page request holds a slot while it is sent and read). */
  listSlots?: ListSlots;
  /** The first WATCH waits for this (the controller: every kind listed, or a few seconds), so the watch
   * connections are opened after the initial LISTs rather than competing with them. */
  firstWatchAfter?: Promise<void>;
}

const MANAGED_FIELDS = 17;

/** The graph could not take the events (store failure): what the cache says was seen is not stored. */
class SinkError extends Error {
  constructor(readonly inner: unknown) {
    super(`graph write failed: ${errorMessage(inner)}`);
    this.name = "SinkError";
  }
}

class GoneError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = "GoneError";
  }
}

/** A resourceVersion as the cache keeps it: see cachedRv. */
type CachedRv = string | number;

/** Plain decimals a double holds exactly: the same string comes back from the number. */
const PLAIN_DECIMAL = /^[1-9][0-9]{0,14}$/;

/**
 * The cache's form of a resourceVersion: a plain decimal as a number, anything else (the value is
 * opaque to clients) as the string. One-to-one, so two resourceVersions are equal iff their forms are.
 */
export function cachedRv(rv: string): CachedRv {
  return PLAIN_DECIMAL.test(rv) ? Number(rv) : rv;
}

/** Length of the resourceVersion string a cached form stands for (the budget counts the strings). */
function rvLength(v: CachedRv): number {
  if (typeof v === "string") return v.length;
  let digits = 1;
  while (v >= 10 ** digits) digits++;
  return digits;
}

export function objectKey(meta: ObjectMeta): string {
  return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
}

export class Reflector {
  private readonly cache = new Map<string, CachedRv>();
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
  private readonly backoff: Backoff;
  private readonly lw: ListerWatcher;

  constructor(private readonly o: ReflectorOptions) {
    this.synced = new Promise((r) => (this.syncedResolve = r));
    this.log = o.logger.child({ kind: o.spec.kind });
    this.budget = o.budgetBytes ?? 64 * 1024 * 1024;
    this.meter = meterBound(`kube_cache_${o.spec.kind}`, this.budget);
    this.lw = o.listerWatcher ?? kubeListerWatcher(o.client, o.spec, o.fieldSelector);
    this.backoff = new Backoff(
      { initialMs: o.backoffBaseMs ?? 800, multiplier: 2, maxMs: o.backoffMaxMs ?? 30_000, jitter: 0.5 },
      o.random,
    );
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
      if (!this.abort.signal.aborted) this.log.error({ err: errorMessage(err) }, "reflector stopped");
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
        if (this.o.firstWatchAfter) {
          await Promise.race([this.o.firstWatchAfter, abortedPromise(signal)]);
          if (signal.aborted) return;
        }
        await this.watch(signal);
        this.backoff.reset(); // a watch that ended cleanly (server timeout) resumes at once
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
            this.cacheBytes -= 2 * rvLength(rv);
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
          this.backoff.saturate();
        }
        kubeMetrics.watchRestarts.inc({ kind: this.kind, reason });
        const delay = this.backoff.next();
        this.log.warn({ err: errorMessage(err), retryInMs: delay }, needList ? "list failed" : "watch failed");
        await sleep(delay, signal);
      }
    }
  }

  private async list(signal: AbortSignal): Promise<void> {
    const started = performance.now();
    // keys listed, to find the vanished ones; on a first list (empty cache) every key is new and none
    // can have vanished, so no set (10k pods: ~1 MB held until the list ends)
    const seen = this.cache.size > 0 ? new Set<string>() : undefined;
    const limit = this.o.pageSize ?? 500;
    let cont = "";
    let rv = "";
    let count = 0;
    let events: ReflectorEvent[] = [];
    do {
      // a page that never completes (a stuck consistent read) must not stall the kind forever
      const pageSignal = AbortSignal.any([signal, AbortSignal.timeout(this.o.listTimeoutMs ?? 120_000)]);
      const release = await this.o.listSlots?.acquire(pageSignal);
      let bytes: Uint8Array;
      try {
        bytes = await this.lw.list({ limit, continueToken: cont }, pageSignal);
      } finally {
        release?.();
      }
      const page = decodeListPage(bytes);
      rv = page.resourceVersion;
      cont = page.continueToken;
      for (const item of page.items) {
        const obj = this.toObject(item);
        count++;
        seen?.add(obj.key);
        if (this.cache.get(obj.key) === cachedRv(obj.meta.resourceVersion)) continue;
        if (!this.remember(obj.key, obj.meta.resourceVersion)) continue;
        events.push({ type: "upsert", obj });
        if (events.length >= 256) {
          await this.deliver(events);
          events = [];
        }
      }
    } while (cont && !signal.aborted);
    if (seen) {
      for (const key of [...this.cache.keys()]) {
        if (!seen.has(key)) {
          this.forget(key);
          events.push({ type: "delete", spec: this.o.spec, key });
        }
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
    const delta = prev === undefined ? 2 * (key.length + rv.length) + 64 : 2 * (rv.length - rvLength(prev));
    if (prev === undefined && this.cacheBytes + delta > this.budget) {
      this.meter.dropped("over_budget");
      if (!this.overBudgetLogged) {
        this.overBudgetLogged = true;
        this.log.warn({ budgetBytes: this.budget }, "kind over its memory budget; new objects are not tracked");
      }
      return false;
    }
    this.cache.set(key, cachedRv(rv));
    this.cacheBytes += delta;
    this.meter.depth(this.cacheBytes);
    return true;
  }

  private forget(key: string): void {
    const prev = this.cache.get(key);
    if (prev === undefined) return;
    this.cache.delete(key);
    this.cacheBytes -= 2 * (key.length + rvLength(prev)) + 64;
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
      const body = await this.lw.watch({ resourceVersion: this.lastRV, timeoutSeconds: timeout }, ac.signal);
      kubeMetrics.progress(this.kind);
      const reader = body.getReader();
      const frames = new FrameSplitter();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        lastData = Date.now();
        const batch: ReflectorEvent[] = [];
        for (const frame of frames.push(value)) {
          const ev = this.handleFrame(frame);
          if (ev) batch.push(ev);
        }
        if (batch.length) {
          await this.deliver(batch);
          this.backoff.reset();
        }
        kubeMetrics.objects.set({ kind: this.kind }, this.cache.size);
      }
    } finally {
      clearInterval(watchdog);
      signal.removeEventListener("abort", onAbort);
    }
  }

  private handleFrame(frame: Uint8Array): ReflectorEvent | undefined {
    const { type, object: inner } = decodeWatchFrame(frame);
    kubeMetrics.watchEvents.inc({ kind: this.kind, type });
    kubeMetrics.progress(this.kind);
    switch (type) {
      case "ADDED":
      case "MODIFIED": {
        const obj = this.toObject(inner);
        this.lastRV = obj.meta.resourceVersion || this.lastRV;
        if (this.cache.get(obj.key) === cachedRv(obj.meta.resourceVersion)) return undefined;
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
        const status = decodeStatus(inner);
        if (status.code === 410) throw new GoneError(status.message || "resource version too old");
        throw new KubeApiError(status.code || 500, status.reason, `watch error: ${status.message}`);
      }
    }
  }
}

function abortedPromise(signal: AbortSignal): Promise<void> {
  return new Promise((r) => {
    if (signal.aborted) r();
    else signal.addEventListener("abort", () => r(), { once: true });
  });
}
