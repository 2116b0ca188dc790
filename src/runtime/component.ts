// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * One long-running piece of the agent (store, collectors, kube controller, intake, HTTP).
 * The lifecycle starts components in order and stops them in reverse.
 */

export interface Component {
  readonly name: string;
  /** A required component that fails to start stops the agent; an optional one is reported and skipped. */
  readonly required: boolean;
  /** Resolves once the component runs. Rejects with the reason it cannot. */
  start(): Promise<void>;
  /** Drains in-flight work and releases resources. Must finish before `deadline` aborts. */
  stop(deadline: AbortSignal): Promise<void>;
  /** True once started and, where it applies, synced. Feeds /readyz. */
  isReady(): boolean;
}
