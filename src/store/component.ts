// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import type { Component } from "../runtime/component.ts";
import { openStore, type OpenStoreOptions } from "./index.ts";
import type { SqliteStore } from "./sqlite-store.ts";

export interface StoreComponent extends Component {
  /** The open store. Throws before start() resolved and after stop(). */
  readonly store: SqliteStore;
}

/** The store as a lifecycle component: required; opens on start, closes on stop. */
export function createStoreComponent(opts: OpenStoreOptions): StoreComponent {
  let store: SqliteStore | undefined;
  return {
    name: "store",
    required: true,
    get store(): SqliteStore {
      if (!store || store.isClosed) throw new Error("store component is not running");
      return store;
    },
    async start() {
      if (!store || store.isClosed) store = openStore(opts);
    },
    async stop(_deadline: AbortSignal) {
      store?.close();
    },
    isReady() {
      return store !== undefined && !store.isClosed;
    },
  };
}
