// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// DNS names for peers outside the cluster, where the cluster knows them: the names of ExternalName
// Services, resolved (A and AAAA) by the host's resolver, each lookup time-boxed, again every minute
// and as soon as a new name appears. An address one of those names resolves to is reported as that
// name's ExternalEndpoint instead of its /24 or /64.

import * as dns from "node:dns";
import { Counter } from "prom-client";
import type { Logger } from "../log/logger.ts";
import { registry } from "../metrics/registry.ts";
import { errorMessage } from "../util/errors.ts";

const lookups = new Counter({
  name: "antimetal_netgraph_dns_lookups_total",
  help: "Lookups of ExternalName Services' DNS names (A and AAAA each), by result: ok, none (no such record), error (timeout, refused, ...).",
  labelNames: ["result"] as const,
  registers: [registry],
});

export interface ExternalNamesOptions {
  /** The names to resolve (the cluster's ExternalName Services). */
  names: () => string[];
  logger?: Logger;
  /** DNS servers ("ip" or "ip:port"); default the host's (/etc/resolv.conf). */
  servers?: string[];
  /** How often every name is resolved again (default 60 s). */
  refreshMs?: number;
  /** One lookup's time box (default 2 s, one try). */
  timeoutMs?: number;
  /** Names resolved at most (default 1000); addresses kept per name (default 64). */
  maxNames?: number;
  maxAddressesPerName?: number;
}

/** Lookups in flight at once. */
const CONCURRENCY = 8;
export class ExternalNames {
  private byIp = new Map<string, string>();
  /** Each name's addresses by family from its last answer (a family's are kept when a later lookup of it fails). */
  private readonly addressesOf = new Map<string, { 4: string[]; 6: string[] }>();
  private readonly resolver: dns.promises.Resolver;
  private namesKey = "";
  private refreshing: Promise<void> | undefined;
  /** namesChanged() came while a run was resolving the previous set: check again when it ends. */
  private recheck = false;
  private timers: ReturnType<typeof setInterval>[] = [];

  constructor(private readonly opts: ExternalNamesOptions) {
    this.resolver = new dns.promises.Resolver({ timeout: opts.timeoutMs ?? 2000, tries: 1 });
    if (opts.servers?.length) this.resolver.setServers(opts.servers);
  }

  /** The DNS name an address belongs to, if any of the names resolved to it (the first name in sort order). */
  nameOf(ip: string): string | undefined {
    return this.byIp.get(ip);
  }

  /** Resolves every name (concurrent calls share one run). */
  refresh(): Promise<void> {
    this.refreshing ??= this.resolveAll().finally(() => {
      this.refreshing = undefined;
      if (!this.recheck) return;
      this.recheck = false;
      this.namesChanged();
    });
    return this.refreshing;
  }

  /**
   * The set of names may have changed (an ExternalName Service came, went or changed): a new set is
   * resolved at once rather than at the next refresh. Calls while a run is resolving are checked when
   * it ends. Does nothing before start().
   */
  namesChanged(): void {
    if (this.timers.length === 0) return;
    if (this.refreshing) {
      this.recheck = true;
      return;
    }
    if (this.opts.names().join("\n") !== this.namesKey) void this.refresh();
  }

  start(): void {
    void this.refresh();
    const all = setInterval(() => void this.refresh(), this.opts.refreshMs ?? 60_000);
    all.unref?.();
    this.timers = [all];
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.resolver.cancel();
  }

  private async resolveAll(): Promise<void> {
    const all = this.opts.names();
    this.namesKey = all.join("\n");
    const names = all.slice(0, this.opts.maxNames ?? 1000);
    if (all.length > names.length)
      this.opts.logger?.warn({ names: all.length, resolved: names.length }, "netgraph: too many ExternalName Services; the rest stay /24");
    for (const n of this.addressesOf.keys()) if (!names.includes(n)) this.addressesOf.delete(n);
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const name = names[next++]!;
        this.addressesOf.set(name, await this.lookup(name, this.addressesOf.get(name)));
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, names.length) }, worker));
    const byIp = new Map<string, string>();
    const max = this.opts.maxAddressesPerName ?? 64;
    for (const name of names) {
      const a = this.addressesOf.get(name);
      for (const ip of a ? [...a[4], ...a[6]].slice(0, max) : []) if (!byIp.has(ip)) byIp.set(ip, name);
    }
    this.byIp = byIp;
  }

  /** The resolver's own timeout is a hint to c-ares: the time box is enforced here too. */
  private timeBoxed<T>(p: Promise<T>): Promise<T> {
    const ms = this.opts.timeoutMs ?? 2000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ms} ms`), { code: dns.TIMEOUT })), ms);
    });
    return Promise.race([p, late]).finally(() => clearTimeout(timer));
  }

  /** A name's A and AAAA addresses; a family whose lookup failed keeps its addresses from `last`. */
  private async lookup(name: string, last: { 4: string[]; 6: string[] } | undefined): Promise<{ 4: string[]; 6: string[] }> {
    const out = { 4: last?.[4] ?? [], 6: last?.[6] ?? [] };
    for (const family of [4, 6] as const) {
      try {
        out[family] = await this.timeBoxed(family === 4 ? this.resolver.resolve4(name) : this.resolver.resolve6(name));
        lookups.inc({ result: "ok" });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === dns.NOTFOUND || code === dns.NODATA) {
          out[family] = [];
          lookups.inc({ result: "none" });
          continue;
        }
        lookups.inc({ result: "error" });
        this.opts.logger?.debug({ name, family, err: errorMessage(e) }, "netgraph: DNS lookup failed");
      }
    }
    return out;
  }
}
