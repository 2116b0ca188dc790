// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** The ebpf concern's interface: execsnoop and tcpflow collectors, feature detection for `check`, metrics. */

export type { ExecsnoopCommandOptions } from "./command.ts";
export { runExecsnoopCommand } from "./command.ts";
export type { ExecRecordData, ExecsnoopOptions, ExecsnoopStats } from "./execsnoop.ts";
export { createExecsnoopCollector, EXECSNOOP_PROGRAMS, ExecsnoopCollector, UnavailableError } from "./execsnoop.ts";
export type { ExecEvent, RejectReason } from "./execsnoop-decode.ts";
export { commandName, parseExecRecord, RecordError } from "./execsnoop-decode.ts";
export type { Availability, CoreLevel, FeatureReport } from "./features.ts";
export {
  coreLevel,
  detectFeatures,
  ebpfCapabilities,
  execsnoopAvailability,
  formatFeatureReport,
  programAvailability,
} from "./features.ts";
export type { EbpfMetrics } from "./metrics.ts";
export { registerEbpfMetrics } from "./metrics.ts";
export type { OomKill, OomkillOptions } from "./oomkill.ts";
export { cgroupPathOf, OomkillCollector } from "./oomkill.ts";
export { createProcexitTracer, PROCEXIT_PROGRAMS, type ProcessEvent, type ProcessEventSource, type ProcexitOptions } from "./procexit.ts";
export type { TcpflowOptions, TcpflowStats } from "./tcpflow.ts";
export { flowRecordJson, TCPFLOW_PROGRAMS, TcpflowCollector } from "./tcpflow.ts";
export type { TcpflowCommandOptions } from "./tcpflow-command.ts";
export { runTcpflowCommand } from "./tcpflow-command.ts";
export type { FlowEvent, FlowKind } from "./tcpflow-decode.ts";
export { formatAddr, parseFlowRecord } from "./tcpflow-decode.ts";
export type { TcpflowMetrics } from "./tcpflow-metrics.ts";
export { registerTcpflowMetrics } from "./tcpflow-metrics.ts";
