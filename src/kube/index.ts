// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** The Kubernetes concern: what `run` wires in. */

export { KubeClient } from "./client/client.ts";
export { type DetectedConfig, detectKubeConfig, type KubeConfig } from "./client/config.ts";
export { createKubeController, type KubeController, type KubeControllerOptions } from "./controller.ts";
export { KINDS, type KindSpec } from "./kinds.ts";
export { DEFAULT_LEASE_NAME } from "./leader.ts";
export { type ClusterInfo, PROVIDERS, type ProviderName } from "./providers/index.ts";
