// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Self-metrics of run-time configuration: config objects by loader and status, refusals, AMS
// streams, and reloads of the --config file.

import { Counter, Gauge } from "prom-client";
import { registry } from "../../metrics/registry.ts";

export const configObjects = new Gauge({
  name: "antimetal_config_objects",
  help: "Config objects known to a loader, by status (ok = in force, invalid = refused).",
  labelNames: ["loader", "status"] as const,
  registers: [registry],
});

export const configObjectErrors = new Counter({
  name: "antimetal_config_object_errors_total",
  help: "Config objects refused (unreadable, malformed, unknown collector, older version), by loader.",
  labelNames: ["loader"] as const,
  registers: [registry],
});

export const configStreams = new Counter({
  name: "antimetal_config_ams_streams_total",
  help: "WatchConfig streams to the config service, by how they ended (max_age, error, closed).",
  labelNames: ["result"] as const,
  registers: [registry],
});

export const configReloads = new Counter({
  name: "antimetal_config_reloads_total",
  help: "Reloads of the --config file, by trigger (SIGHUP, file) and result (applied, unchanged, error).",
  labelNames: ["trigger", "result"] as const,
  registers: [registry],
});
