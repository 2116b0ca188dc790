// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Poison-entry isolation after INVALID_ARGUMENT: a pure state machine (no IO) that halves the
// entries per stream until the offending entry is alone, then drops it after repeated rejections.

/** What a stream remembers of each entry it carried: enough to confirm (or drop) it, not the object. */
export interface SentRef {
  key: string;
  seq: number;
  op: "CREATE" | "UPDATE" | "DELETE";
  bytes: number;
}

interface Isolating {
  /** Entries the next stream may carry. */
  limit: number;
  /** Isolation ends once an acknowledged stream reaches this seq. */
  untilSeq: number;
  /** The entry last rejected alone, and how many times in a row. */
  lastKey?: string;
  lastSeq?: number;
  strikes: number;
}

/**
 * The intake rejects a whole stream when one entry is invalid. After a rejection the next stream
 * carries half as many entries; a stream rejected with one entry, `dropAfterRejections` times in a
 * row with the same entry, names the entry to drop. Acknowledged streams double the limit (up to
 * `maxLimit`) until the rejected range is delivered.
 */
export class PoisonIsolation {
  private state: Isolating | undefined;

  constructor(
    private readonly dropAfterRejections: number,
    private readonly maxLimit: number,
  ) {}

  /** Entries the next stream may carry; undefined when not isolating. */
  get limit(): number | undefined {
    return this.state?.limit;
  }

  /** The stream that carried `sent` was acknowledged. */
  acknowledged(sent: ReadonlyArray<SentRef>): void {
    const st = this.state;
    if (!st) return;
    const last = sent.at(-1);
    if (last && last.seq >= st.untilSeq) this.state = undefined;
    else st.limit = Math.min(st.limit * 2, this.maxLimit);
  }

  /** The stream that carried `sent` was rejected as INVALID_ARGUMENT. Returns the entry to drop, if any. */
  rejected(sent: ReadonlyArray<SentRef>): SentRef | undefined {
    if (sent.length === 0) return undefined;
    const maxSeq = sent.reduce((a, e) => Math.max(a, e.seq), 0);
    if (sent.length > 1) {
      this.state = { limit: Math.max(1, Math.ceil(sent.length / 2)), untilSeq: Math.max(this.state?.untilSeq ?? 0, maxSeq), strikes: 0 };
      return undefined;
    }
    const e = sent[0]!;
    const st = this.state ?? { limit: 1, untilSeq: maxSeq, strikes: 0 };
    st.strikes = st.lastKey === e.key && st.lastSeq === e.seq ? st.strikes + 1 : 1;
    st.lastKey = e.key;
    st.lastSeq = e.seq;
    st.limit = 1;
    this.state = st;
    if (st.strikes < this.dropAfterRejections) return undefined;
    st.strikes = 0;
    st.lastKey = undefined;
    st.limit = 2;
    return e;
  }
}
