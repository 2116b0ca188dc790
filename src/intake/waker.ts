// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A sleep that an outbox append (or stop) cuts short: the streamer's only way of waiting.

/** Sleeps until the timeout or a wake(); never rejects. A wake() with nobody asleep ends the next sleep at once. */
export class Waker {
  private pending: (() => void) | undefined;
  private signalled = false;

  wake(): void {
    this.signalled = true;
    const p = this.pending;
    this.pending = undefined;
    p?.();
  }

  sleep(ms: number): Promise<void> {
    if (this.signalled) {
      this.signalled = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(
        () => {
          this.pending = undefined;
          resolve();
        },
        Math.max(0, ms),
      );
      this.pending = () => {
        clearTimeout(t);
        this.signalled = false;
        resolve();
      };
    });
  }
}
