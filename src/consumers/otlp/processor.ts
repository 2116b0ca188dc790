// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The batcher: turns buffered metric events into OTLP requests of at most the export batch size and
// hands them to the exporter, one at a time, in order, so cumulative series stay ordered.

import type { Logger } from "../../log/logger.ts";
import type { MetricEvent } from "../../perf/collector.ts";
import { errorMessage } from "../../util/errors.ts";
import { consumerErrors } from "../self-metrics.ts";
import { type Attrs, CumulativeState, RequestBuilder } from "./batch.ts";
import { addEvent, CatalogueState } from "./catalogue.ts";
import type { OtlpConfig } from "./config.ts";
import type { ExportOutcome, OtlpExporter } from "./exporter.ts";

export class BatchProcessor {
  private readonly cumulative: CumulativeState;
  private readonly catalogue = new CatalogueState();
  exportedEvents = 0;
  errors = 0;
  lastError = "";

  constructor(
    private readonly cfg: OtlpConfig,
    private readonly exporter: OtlpExporter,
    private readonly base: Attrs,
    bootTimeMs: number,
    private readonly logger: Logger,
  ) {
    this.cumulative = new CumulativeState(BigInt(Math.round(bootTimeMs)) * 1_000_000n);
  }

  /** Encodes and exports a batch of events (at most the batch size); events of types not exported are skipped. */
  async process(events: MetricEvent[], signals: { stop: AbortSignal; cancel: AbortSignal }): Promise<ExportOutcome | "empty"> {
    const b = new RequestBuilder(this.cumulative, this.base);
    let used = 0;
    for (const e of events) {
      try {
        if (addEvent(b, e, this.catalogue)) used++;
      } catch (err) {
        this.errors++;
        this.lastError = errorMessage(err);
        consumerErrors.inc({ consumer: "opentelemetry" });
        if (this.errors % 100 === 1)
          this.logger.warn({ metricType: e.metricType, err: this.lastError, errors: this.errors }, "metric event not encoded");
      }
    }
    if (b.points === 0) return "empty";
    const outcome = await this.exporter.export(b.build(this.cfg.resource), b.points, used, signals);
    if (outcome === "ok") this.exportedEvents += used;
    return outcome;
  }
}
