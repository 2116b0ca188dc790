// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Config objects (antimetal.types.v1.Object): decoding from protojson/YAML text, validation in the
// original's order with its messages, version comparison, and the ConfigError that reports a refusal.

import { create, fromBinary, fromJson, type JsonValue, toBinary } from "@bufbuild/protobuf";
import { parse as parseYaml } from "yaml";
import {
  type ConfigError,
  ConfigErrorSchema,
  type HostStatsCollectionConfig,
  HostStatsCollectionConfigSchema,
} from "../../proto/gen/antimetal/agent/v1/config_pb.ts";
import { type Object$, ObjectSchema } from "../../proto/gen/antimetal/types/v1/object_pb.ts";
import { ObjectRefSchema, TypeDescriptorSchema } from "../../proto/gen/antimetal/types/v1/types_pb.ts";
import { errorMessage } from "../../util/errors.ts";

/** The one config type the agent understands. */
export const HOST_STATS_TYPE = "antimetal.agent.v1.HostStatsCollectionConfig";
/** Largest interval a config object may ask for (the scheduler's upper bound, 24 h). */
export const MAX_INTERVAL_SECONDS = 86_400;

/** Whether a collector can run here: the registry's answer ("not found" for an unknown name). */
export type CollectorStatus = (collector: string) => { available: boolean; reason: string };

/** One config object after parsing: valid (config set) or invalid (error set), with what was known of it. */
export interface ConfigInstance {
  typeUrl: string;
  name: string;
  version: string;
  status: "ok" | "invalid";
  error?: string;
  config?: HostStatsCollectionConfig;
  /** Object.ttl in ms (AMS only; 0 = none). */
  ttlMs: number;
  /** Where it came from: a file path, or "ams". */
  source: string;
  /** The object as received, for INITIAL replays. */
  object?: Object$;
}

/** Parses one object as the original does, in its order of checks; never throws. */
export function parseObject(obj: Object$ | undefined, source: string, collectorStatus: CollectorStatus): ConfigInstance {
  const out: ConfigInstance = { typeUrl: "", name: "", version: "", status: "invalid", ttlMs: 0, source };
  const fail = (error: string): ConfigInstance => ({ ...out, error });
  if (!obj) return fail("object is nil");
  out.object = obj;
  out.version = obj.version;
  out.ttlMs = obj.ttl ? Number(obj.ttl.seconds) * 1000 + Math.floor(obj.ttl.nanos / 1e6) : 0;
  if (!obj.type) return fail("object type is nil");
  if (obj.type.type === "") return fail("object type.type is empty");
  out.typeUrl = obj.type.type;
  if (obj.name === "") return fail("object name is empty");
  out.name = obj.name;
  if (obj.data.length === 0) return fail("object data is empty");
  if (obj.type.type !== HOST_STATS_TYPE) return fail(`unrecognized type: ${obj.type.type}`);
  let config: HostStatsCollectionConfig;
  try {
    config = fromBinary(HostStatsCollectionConfigSchema, obj.data);
  } catch (e) {
    return fail(`failed to parse config: failed to unmarshal: ${errorMessage(e)}`);
  }
  if (config.collector === "") return fail("failed to parse config: collector name is empty");
  const status = collectorStatus(config.collector);
  if (!status.available) return fail(`failed to parse config: collector ${config.collector} is not available: ${status.reason}`);
  if (config.intervalSeconds > MAX_INTERVAL_SECONDS)
    return fail(`failed to parse config: interval_seconds ${config.intervalSeconds} is over ${MAX_INTERVAL_SECONDS} (24h)`);
  return { ...out, status: "ok", config };
}

/**
 * The original's version comparison: one leading "v" is stripped, the rest must be a non-negative
 * decimal integer; an empty previous version counts as older. Returns -1, 0 or 1; throws on a bad version.
 */
export function compareVersions(current: string, previous: string): -1 | 0 | 1 {
  const num = (v: string): number => {
    const digits = v.startsWith("v") ? v.slice(1) : v;
    if (!/^\d+$/.test(digits)) throw new Error(`could not parse version ${v}`);
    return Number(digits);
  };
  const c = num(current);
  if (previous === "") return 1;
  const p = num(previous);
  return c < p ? -1 : c > p ? 1 : 0;
}

/**
 * The original's rule: a version lower than the one in force is refused; equal is accepted.
 * The fs loader compares only when both carry a version; the AMS loader requires one.
 */
export function versionProblem(version: string, inForce: string): string | undefined {
  try {
    if (compareVersions(version, inForce) < 0) return `version ${version} is less than the currently stored version ${inForce}`;
  } catch (e) {
    return errorMessage(e);
  }
  return undefined;
}

/** Decodes the text of a config object file (.json strict protojson; .yaml/.yml first document). */
export function decodeObjectText(text: string, format: "json" | "yaml"): Object$ {
  if (text.trim() === "") throw new Error("config file is empty");
  let json: unknown;
  try {
    json = format === "json" ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new Error(`failed to read config file: ${errorMessage(e).split("\n")[0]}`);
  }
  try {
    return fromJson(ObjectSchema, json as JsonValue);
  } catch (e) {
    throw new Error(`failed to unmarshal config file: ${errorMessage(e)}`);
  }
}

/** The ConfigError the original reports for a refused object: config_ref {type, name} and the reason. */
export function configErrorOf(instance: Pick<ConfigInstance, "typeUrl" | "name" | "error">): ConfigError {
  return create(ConfigErrorSchema, {
    configRef: create(ObjectRefSchema, { type: create(TypeDescriptorSchema, { type: instance.typeUrl }), name: instance.name }),
    reason: instance.error ?? "",
  });
}

/** A HostStatsCollectionConfig object, as the loaders and tests build them. */
export function hostStatsObject(name: string, collector: string, intervalSeconds: number, version = ""): Object$ {
  return create(ObjectSchema, {
    type: create(TypeDescriptorSchema, { type: HOST_STATS_TYPE }),
    name,
    version,
    data: toBinary(HostStatsCollectionConfigSchema, create(HostStatsCollectionConfigSchema, { collector, intervalSeconds })),
  });
}
