// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// What the rest of the agent sees of a config object loader (fs or AMS).

import { type JsonValue, toJson } from "@bufbuild/protobuf";
import { ConfigErrorSchema } from "../../proto/gen/antimetal/agent/v1/config_pb.ts";
import type { Component } from "../../runtime/component.ts";
import { type ConfigInstance, configErrorOf } from "./parse.ts";

/** A config object as /config shows it (no data bytes). */
export interface ConfigObjectView {
  type: string;
  name: string;
  version: string;
  status: "ok" | "invalid";
  error?: string;
  /** For a refused object: the antimetal.agent.v1.ConfigError reporting it, in protobuf JSON. */
  configError?: JsonValue;
  source: string;
  collector?: string;
  intervalSeconds?: number;
}

export interface ConfigObjectSource extends Component {
  readonly loader: "fs" | "ams";
  /** The valid objects in force, one per type and name. */
  active(): ConfigInstance[];
  /** Every object's last result, refused ones included, and the loader's own state. */
  view(): { loader: string; state: Record<string, unknown>; objects: ConfigObjectView[] };
  /** Called after the set of objects in force changed. */
  onChange(listener: () => void): void;
}

export function objectKey(i: Pick<ConfigInstance, "typeUrl" | "name">): string {
  return `${i.typeUrl}:${i.name}`;
}

export function objectView(i: ConfigInstance): ConfigObjectView {
  return {
    type: i.typeUrl,
    name: i.name,
    version: i.version,
    status: i.status,
    ...(i.error !== undefined ? { error: i.error, configError: toJson(ConfigErrorSchema, configErrorOf(i)) } : {}),
    source: i.source,
    ...(i.config ? { collector: i.config.collector, intervalSeconds: i.config.intervalSeconds } : {}),
  };
}

/** Same objects in force (type, name, version, collector, interval)? */
export function sameActive(a: ConfigInstance[], b: ConfigInstance[]): boolean {
  const sig = (xs: ConfigInstance[]) =>
    xs
      .map((i) => `${objectKey(i)}|${i.version}|${i.config?.collector}|${i.config?.intervalSeconds}`)
      .sort()
      .join("\n");
  return sig(a) === sig(b);
}
