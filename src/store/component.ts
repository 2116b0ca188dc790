// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The open store as a required lifecycle component, closed on stop.

import type { Component } from "../runtime/component.ts";
import type { SqliteStore } from "./sqlite-store.ts";

/**
 * An open store as a lifecycle component: required, closed on stop. The store is opened before
 * the lifecycle starts because the other components are built with it.
 */
export function createStoreComponent(store: SqliteStore): Component {
  return {
    name: "store",
    required: true,
    start: async () => undefined,
    stop: async () => store.close(),
    isReady: () => !store.isClosed,
  };
}
