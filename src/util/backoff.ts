// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Exponential backoff with jitter that retries forever: the original's defaults (500 ms x 1.5, cap 60 s)
// and a slow schedule for permanent errors.

export interface BackoffOptions {
  initialMs: number;
  multiplier: number;
  maxMs: number;
  /** Randomization factor: the wait is uniform in [d*(1-j), d*(1+j)] (or [d, d*(1+j)) with jitterUpOnly). */
  jitter: number;
  /** Only lengthen the wait (client-go's wait.Jitter): a period that jitter must never shorten. */
  jitterUpOnly?: boolean;
}

/** cenkalti/backoff defaults, as the original agent: 500 ms × 1.5, cap 60 s, randomization 0.5. */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, multiplier: 1.5, maxMs: 60_000, jitter: 0.5 };

/** For permanent errors (bad key, bad request): slow, so a misconfigured agent does not spin. */
export const PERMANENT_BACKOFF: BackoffOptions = { initialMs: 30_000, multiplier: 2, maxMs: 300_000, jitter: 0.2 };

/** Exponential backoff with jitter; retries forever (no max elapsed time). */
export class Backoff {
  private current: number;
  attempts = 0;
  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {
    this.current = opts.initialMs;
  }

  next(): number {
    const base = this.current;
    this.current = Math.min(this.opts.maxMs, this.current * this.opts.multiplier);
    this.attempts++;
    const delta = base * this.opts.jitter;
    if (this.opts.jitterUpOnly) return Math.round(base + this.random() * delta);
    return Math.max(0, Math.round(base - delta + this.random() * 2 * delta));
  }

  /** Jumps to the longest wait (for failures that retrying soon will not fix). */
  saturate(): void {
    this.current = this.opts.maxMs;
  }

  reset(): void {
    this.current = this.opts.initialMs;
    this.attempts = 0;
  }
}
