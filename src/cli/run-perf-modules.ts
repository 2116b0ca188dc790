// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// What `run` needs only with --enable-performance-collectors (or a textfile directory): the collector
// registry, scheduler, router and exposition, imported by run.ts on demand so an agent without host
// metrics neither loads nor initialises them (startup time and idle memory: docs/performance.md).

export { FsConfigLoader } from "../config/objects/fs-loader.ts";
export { defaultRegistry } from "../perf/collect-command.ts";
export { defaultIo } from "../perf/collectors/common.ts";
export { PrometheusExposition } from "../perf/exposition.ts";
export { detectHostView, hostViewExposition, leftOutByView } from "../perf/host-view.ts";
export { MetricsRouter } from "../perf/router.ts";
export { CollectorScheduler } from "../perf/scheduler.ts";
export { TextfileCollector } from "../perf/textfile.ts";
export { CollectorControl } from "./collector-control.ts";
