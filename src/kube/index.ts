// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** The Kubernetes concern: what `run` wires in. */

export { createKubeController, type KubeController, type KubeControllerOptions } from "./controller.ts";
export { detectKubeConfig, type DetectedConfig, type KubeConfig } from "./client/config.ts";
export { KINDS, type KindSpec } from "./kinds.ts";
export { PROVIDERS, type ClusterInfo, type ProviderName } from "./providers/index.ts";
export { DEFAULT_LEASE_NAME } from "./leader.ts";
