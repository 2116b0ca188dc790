// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's algorithm and
 * controller-runtime's defaults: lease 15 s, renew deadline 10 s, retry 2 s. Expiry is judged by
 * the local time at which this agent last saw the lease record change (not the holder's clock).
 * On shutdown the leader releases the lease (holder cleared) so a successor takes over at once.
 */

import * as os from "node:os";
import type { Logger } from "../log/logger.ts";
import { Backoff } from "../util/backoff.ts";
import { errorMessage } from "../util/errors.ts";
import { sleep } from "../util/sleep.ts";
import { KubeApiError, type KubeClient } from "./client/client.ts";
import { kubeMetrics } from "./metrics.ts";

export const DEFAULT_LEASE_NAME = "4927b366.antimetal.com";

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name?: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onNewLeader?: (identity: string) => void;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

/** MicroTime: RFC 3339 with microseconds. */
export function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaderElector {
  readonly identity: string;
  private readonly name: string;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly retryMs: number;
  private readonly followerRetry: Backoff;
  private leading = false;
  private observed: { record: string; at: number } = { record: "", at: 0 };
  private lastLease: Lease | undefined;
  private abort = new AbortController();
  private running: Promise<void> | undefined;
  private currentLeader = "";
  private term = 0;
  private rounds = 0;

  constructor(private readonly o: LeaderElectionOptions) {
    this.identity = o.identity ?? `${os.hostname()}_${crypto.randomUUID()}`;
    this.name = o.name ?? DEFAULT_LEASE_NAME;
    this.leaseMs = o.leaseDurationMs ?? 15_000;
    this.renewMs = o.renewDeadlineMs ?? 10_000;
    this.retryMs = o.retryPeriodMs ?? 2_000;
    this.followerRetry = new Backoff({ initialMs: this.retryMs, multiplier: 1, maxMs: this.retryMs, jitter: 0.2, jitterUpOnly: true });
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** True once the first round (acquire, or find the lease held) has finished, leading or not. */
  hasCampaigned(): boolean {
    return this.rounds > 0;
  }

  leader(): { identity: string; term: number } {
    return { identity: this.currentLeader, term: this.term };
  }

  start(): void {
    if (this.running) return;
    this.abort = new AbortController();
    this.running = this.run(this.abort.signal);
  }

  /** Stops campaigning; a leader releases the lease first. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    this.running = undefined;
    if (this.leading) {
      await this.release().catch((err) => this.o.logger.warn({ err: String(err) }, "lease release failed"));
      this.setLeading(false);
    }
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.o.namespace)}/leases/${encodeURIComponent(this.name)}`;
  }

  private async run(signal: AbortSignal): Promise<void> {
    let lastRenew = 0;
    while (!signal.aborted) {
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew(signal);
      } catch (err) {
        if (signal.aborted) break;
        this.o.logger.warn({ err: errorMessage(err) }, "leader election round failed");
      }
      const now = Date.now();
      if (ok) {
        lastRenew = now;
        if (!this.leading) this.setLeading(true);
      } else if (this.leading && now - lastRenew > this.renewMs) {
        this.o.logger.warn({ lease: this.name }, "could not renew the leader lease within the renew deadline; stepping down");
        this.setLeading(false);
      }
      // after setLeading: a new leader is not ready until it has synced, so readiness never sees a gap
      this.rounds++;
      // a follower's retries are jittered up to 20% (client-go's JitterFactor 1.2) so candidates spread out
      await sleep(this.leading ? this.retryMs : this.followerRetry.next(), signal);
    }
  }

  private setLeading(v: boolean): void {
    if (this.leading === v) return;
    this.leading = v;
    kubeMetrics.isLeader.set(v ? 1 : 0);
    this.o.logger.info({ identity: this.identity, lease: `${this.o.namespace}/${this.name}` }, v ? "became leader" : "stopped leading");
    if (v) this.o.onStartedLeading();
    else this.o.onStoppedLeading();
  }

  private noteLeader(spec: LeaseSpec): void {
    const holder = spec.holderIdentity ?? "";
    const term = spec.leaseTransitions ?? 0;
    if (holder !== this.currentLeader || term !== this.term) {
      kubeMetrics.leaderInfo.reset();
      if (holder) kubeMetrics.leaderInfo.set({ lease: `${this.o.namespace}/${this.name}`, identity: holder, term: String(term) }, 1);
      kubeMetrics.leaderTransitions.set(term);
      const changed = holder !== this.currentLeader;
      this.currentLeader = holder;
      this.term = term;
      if (changed && holder) this.o.onNewLeader?.(holder);
    }
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const now = new Date();
    let lease: Lease;
    try {
      lease = await this.o.client.getJSON<Lease>(this.path, signal);
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
      const created: Lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: this.name, namespace: this.o.namespace },
        spec: {
          holderIdentity: this.identity,
          leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      try {
        this.lastLease = await this.o.client.sendJSON<Lease>(
          "POST",
          `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.o.namespace)}/leases`,
          created,
          signal,
        );
      } catch (e) {
        if (e instanceof KubeApiError && e.status === 409) return false; // someone else created it first
        throw e;
      }
      this.observed = { record: JSON.stringify(this.lastLease.spec), at: Date.now() };
      this.noteLeader(this.lastLease.spec);
      return true;
    }
    const spec = lease.spec ?? {};
    const record = JSON.stringify(spec);
    if (record !== this.observed.record) this.observed = { record, at: Date.now() };
    this.noteLeader(spec);
    const holder = spec.holderIdentity ?? "";
    const durMs = (spec.leaseDurationSeconds ?? Math.ceil(this.leaseMs / 1000)) * 1000;
    if (holder && holder !== this.identity && this.observed.at + durMs > Date.now()) return false;
    const next: LeaseSpec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
      acquireTime: holder === this.identity ? spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: holder === this.identity ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
    };
    const updated: Lease = { ...lease, spec: next };
    try {
      this.lastLease = await this.o.client.sendJSON<Lease>("PUT", this.path, updated, signal);
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 409) return false; // lost the race
      throw e;
    }
    this.observed = { record: JSON.stringify(this.lastLease.spec), at: Date.now() };
    this.noteLeader(this.lastLease.spec);
    return true;
  }

  private async release(): Promise<void> {
    const lease = this.lastLease ?? (await this.o.client.getJSON<Lease>(this.path));
    if ((lease.spec?.holderIdentity ?? "") !== this.identity) return;
    const now = microTime();
    await this.o.client.sendJSON("PUT", this.path, {
      ...lease,
      spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
    });
    this.o.logger.info({ lease: `${this.o.namespace}/${this.name}` }, "released the leader lease");
  }
}
