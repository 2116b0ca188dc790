// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// One channel streamer's statistics: the single place where an upload event is counted, both in
// the streamer's stats() and in the process-wide /metrics families.

import { intakeMetrics as m } from "./metrics.ts";

export interface StreamerStats {
  channel: string;
  streamsAcked: number;
  streamsFailed: number;
  deltasAcked: number;
  deltasSent: number;
  bytesSent: number;
  heartbeats: number;
  resyncs: number;
  dropped: number;
  watchdogResets: number;
  lastAckAt: number | undefined;
  lastError: string | undefined;
  resetsByCode: Record<string, number>;
}

/**
 * Every method records one event: it updates this streamer's stats (what `stats()` and tests read)
 * and the /metrics counter for the channel (summed over every streamer of the process).
 */
export class ChannelStats {
  private readonly s: StreamerStats;
  private readonly labels: { channel: string };

  constructor(readonly channel: string) {
    this.labels = { channel };
    this.s = {
      channel,
      streamsAcked: 0,
      streamsFailed: 0,
      deltasAcked: 0,
      deltasSent: 0,
      bytesSent: 0,
      heartbeats: 0,
      resyncs: 0,
      dropped: 0,
      watchdogResets: 0,
      lastAckAt: undefined,
      lastError: undefined,
      resetsByCode: {},
    };
  }

  snapshot(): StreamerStats {
    return { ...this.s, resetsByCode: { ...this.s.resetsByCode } };
  }

  /** One DeltaRequest written to a stream. */
  wrote(bytes: number, deltas: number): void {
    this.s.bytesSent += bytes;
    this.s.deltasSent += deltas;
    m.bytesSent.inc(this.labels, bytes);
    m.deltasSent.inc(this.labels, deltas);
    m.batchesSent.inc(this.labels);
  }

  heartbeat(): void {
    this.s.heartbeats++;
    m.heartbeats.inc(this.labels);
  }

  acknowledged(deltas: number, batches: number, at: number): void {
    this.s.streamsAcked++;
    this.s.deltasAcked += deltas;
    this.s.lastAckAt = at;
    m.streamsAcked.inc(this.labels);
    m.deltasAcked.inc(this.labels, deltas);
    m.batchesAcked.inc(this.labels, batches);
    m.lastAck.set(this.labels, at / 1000);
  }

  resynced(): void {
    this.s.resyncs++;
    m.resyncs.inc(this.labels);
  }

  /** A stream ended without acknowledgement. */
  failed(codeName: string, details: string, permanent: boolean): void {
    this.s.streamsFailed++;
    this.s.resetsByCode[codeName] = (this.s.resetsByCode[codeName] ?? 0) + 1;
    this.s.lastError = `${codeName}: ${details}`;
    m.streamResets.inc({ ...this.labels, code: codeName });
    if (permanent) m.permanentErrors.inc({ ...this.labels, code: codeName });
  }

  /** The upload loop itself threw (the store closed under it, ...). */
  errored(message: string): void {
    this.s.lastError = message;
  }

  watchdogReset(): void {
    this.s.watchdogResets++;
  }

  retry(): void {
    m.retries.inc(this.labels);
  }

  /** Outbox entries deliberately not delivered. */
  dropped(reason: string, entries: number): void {
    this.s.dropped += entries;
    m.dropped.inc({ ...this.labels, reason }, entries);
  }

  /** A full resync given up after repeated INVALID_ARGUMENT (the snapshot is not outbox entries). */
  resyncAbandoned(): void {
    m.dropped.inc({ ...this.labels, reason: "resync_rejected" });
  }
}
