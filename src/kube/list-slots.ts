// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * How many LIST requests the reflectors of one controller have in flight at once. Every request
 * that finds no idle connection opens a new TLS connection; at startup eighteen kinds listing at once
 * cost eighteen handshakes (about 40 ms of a 2-vCPU node, and the readiness probe waits for them),
 * where a few warm connections serve the same (mostly small) lists in a fraction of that.
 */

export class ListSlots {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new Error(`ListSlots limit must be at least 1, got ${limit}`);
  }

  /** Waits for a slot; the returned function gives it back (once). Rejects if `signal` aborts first. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.inFlight >= this.limit) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const i = this.waiting.indexOf(go);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal!.reason ?? new Error("aborted"));
        };
        const go = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener("abort", onAbort, { once: true });
        this.waiting.push(go);
      });
    } else {
      this.inFlight++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // the slot passes straight to the next waiter (inFlight unchanged), else it is freed
      if (next) next();
      else this.inFlight--;
    };
  }

  /** Requests in flight (for tests). */
  get active(): number {
    return this.inFlight;
  }
}
