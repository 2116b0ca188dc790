// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The intake's interface for the rest of the agent: the component that uploads the store's outbox
// to the intake over gRPC, and the connectivity check.

export { checkIntake, type IntakeCheckResult } from "./check.ts";
export {
  CLUSTER_CHANNEL,
  createIntakeComponent,
  INSTANCE_CHANNEL,
  type IntakeComponent,
  type IntakeEndpoint,
  type IntakeOptions,
} from "./component.ts";
export { FAILURE_REASONS, type FailureReason, type UploadHealthSnapshot } from "./health.ts";
export { ChannelStreamer, type SentRef, type StreamerStats, type UploadOutbox } from "./streamer.ts";
export { IntakeTransport } from "./transport.ts";
export { newDeltaVersion } from "./wire.ts";
