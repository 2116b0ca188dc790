// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** The ebpf concern's interface: execsnoop collector, feature detection for `check`, metrics. */

export { createExecsnoopCollector, ExecsnoopCollector, UnavailableError, EXECSNOOP_PROGRAMS } from "./execsnoop.ts";
export type { ExecsnoopOptions, ExecRecordData, ExecsnoopStats } from "./execsnoop.ts";
export { detectFeatures, formatFeatureReport, execsnoopAvailability, ebpfCapabilities, coreLevel } from "./features.ts";
export type { FeatureReport, Availability, CoreLevel } from "./features.ts";
export { runExecsnoopCommand } from "./command.ts";
export type { ExecsnoopCommandOptions } from "./command.ts";
export { registerEbpfMetrics } from "./metrics.ts";
export type { EbpfMetrics } from "./metrics.ts";
export { parseExecRecord, RecordError, commandName } from "./execsnoop-decode.ts";
export type { ExecEvent, RejectReason } from "./execsnoop-decode.ts";
