// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The /metrics body, rendered once per change and shared by every scrape (with its gzip, made once),
// so a scrape costs a buffer write however many scrapers there are.

import type { Registry } from "prom-client";

/** Text in the Prometheus format whose `version` changes whenever `render()` would return other text. */
export interface ExpositionSource {
  readonly version: number;
  render(): Promise<string>;
}

export interface ScrapeBody {
  /** UTF-8 text format. */
  readonly text: Uint8Array;
  /** The same body gzip-compressed, made on the first request that accepts gzip. */
  gzip(): Uint8Array;
}

export interface ScrapeCacheOptions {
  /** Self metrics (prom-client): they change between collections, so they are re-rendered when older than selfMaxAgeMs. */
  registry: Registry;
  /** Host metrics and the like: re-rendered only when their version changes. */
  sources?: readonly ExpositionSource[];
  /** Default 1000 ms. */
  selfMaxAgeMs?: number;
  now?: () => number;
}

export const DEFAULT_SELF_MAX_AGE_MS = 1000;

/**
 * Scrapes that arrive while a body is being rendered wait for that render instead of starting their
 * own, and scrapes in between renders get the same bytes. The body is the registry's text followed by
 * each source's, joined as one prom-client registry joins its families.
 */
export class ScrapeCache {
  private readonly sources: readonly ExpositionSource[];
  private readonly selfMaxAgeMs: number;
  private readonly now: () => number;
  private selfText = "";
  private selfRenderedAt = -Infinity;
  private readonly sourceTexts: string[] = [];
  private readonly sourceVersions: number[] = [];
  private body: ScrapeBody | undefined;
  private rendering: Promise<ScrapeBody> | undefined;

  constructor(private readonly opts: ScrapeCacheOptions) {
    this.sources = opts.sources ?? [];
    this.selfMaxAgeMs = opts.selfMaxAgeMs ?? DEFAULT_SELF_MAX_AGE_MS;
    this.now = opts.now ?? (() => performance.now());
  }

  /** The current body, rendering first if the self metrics are stale or a source changed. */
  current(): Promise<ScrapeBody> {
    if (this.body && !this.stale()) return Promise.resolve(this.body);
    this.rendering ??= this.rerender().finally(() => (this.rendering = undefined));
    return this.rendering;
  }

  private stale(): boolean {
    if (this.now() - this.selfRenderedAt >= this.selfMaxAgeMs) return true;
    return this.sources.some((s, i) => s.version !== this.sourceVersions[i]);
  }

  private async rerender(): Promise<ScrapeBody> {
    // New collector data re-renders the self metrics too, so the per-collection ones (last success,
    // durations, errors) in a body always match the host data beside them.
    const sourcesChanged = this.sources.some((s, i) => s.version !== this.sourceVersions[i]);
    if (sourcesChanged || this.now() - this.selfRenderedAt >= this.selfMaxAgeMs) {
      this.selfText = await this.opts.registry.metrics();
      this.selfRenderedAt = this.now();
    }
    for (const [i, source] of this.sources.entries()) {
      if (this.sourceVersions[i] === source.version && this.sourceTexts[i] !== undefined) continue;
      const version = source.version;
      this.sourceTexts[i] = await source.render();
      this.sourceVersions[i] = version;
    }
    const text = Buffer.from(joinExpositions([this.selfText, ...this.sourceTexts]));
    let gz: Uint8Array | undefined;
    this.body = { text, gzip: () => (gz ??= Bun.gzipSync(text)) };
    return this.body;
  }
}

/** Joins registry outputs ("fam\n\nfam\n") the way one registry joins its families; empty ones drop out. */
export function joinExpositions(texts: readonly string[]): string {
  const parts = texts.map((t) => t.replace(/\n+$/, "")).filter((t) => t.length > 0);
  return parts.length ? `${parts.join("\n\n")}\n` : "\n";
}
