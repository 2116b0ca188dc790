// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Usage text of the CLI: per-command summaries and flag help, with defaults and environment variable names.

import { type Command, envNames, OPTIONS, type OptionKey, type OptionSpec, optionsFor } from "../config/schema.ts";
import { durationRange, rangeText } from "../config/validators.ts";

export const COMMANDS: Record<Command | "version", { usage: string; summary: string }> = {
  run: {
    usage: "antimetal-agent run [flags]",
    summary:
      'Run the agent: resource store, host graph, performance collectors, Kubernetes watch and intake upload, with probes and /metrics.\nStandalone use needs no cloud account: --intake-address "" turns upload off and --enable-kubernetes-controller=false the cluster view\n(both turn off by themselves, with a logged reason, when there is no API key or no kubeconfig/in-cluster config).',
  },
  collect: {
    usage: "antimetal-agent collect [--collectors a,b] [--format json] [flags]",
    summary:
      'Collect host metrics once and print one JSON object keyed by metric type. Failed collectors are listed under "errors".\n--collectors execsnoop or --collectors tcpflow records exec events or TCP connections for --duration and prints JSON lines; --collectors oomkill,procexit,tcpflow records those programs together (each line names its program).',
  },
  store: {
    usage: "antimetal-agent store resources [--type T] | relationships [--subject KEY] [--object KEY] [--predicate T] | stats [flags]",
    summary:
      "Print what the resource store in --data-directory holds, as JSON. Safe while the agent runs (reads <data-directory>/resource/store.db read-only).\n" +
      "  resources       resources whose type matches --type (dot-segment prefix)\n" +
      '  relationships   relationships matching every given --subject, --object and --predicate (KEY as printed by "store resources")\n' +
      "  stats           counts, outbox depth and bytes per channel, file sizes",
  },
  check: {
    usage: "antimetal-agent check [flags]",
    summary:
      "Report kernel version, BTF, ring buffer and CO-RE support, effective capabilities, and for every collector whether it can run here and why not.",
  },
  version: { usage: "antimetal-agent version", summary: "Print the version, git revision and build date." },
};

function defaultText(key: OptionKey): string {
  const d = (OPTIONS[key] as OptionSpec).default;
  return d === "" ? '""' : String(d);
}

export function commandHelp(command: Command | "version"): string {
  const c = COMMANDS[command];
  const lines = [`Usage: ${c.usage}`, "", c.summary];
  if (command === "version") return lines.join("\n") + "\n";
  lines.push("", "Flags:");
  const keys = optionsFor(command);
  const left = keys.map((k) => `  --${OPTIONS[k].flag} ${OPTIONS[k].placeholder}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  keys.forEach((k, i) => {
    const spec: OptionSpec = OPTIONS[k];
    const range = durationRange(spec.schema);
    const rangeNote = range ? `; ${rangeText(range)}` : "";
    const env = envNames(k);
    const envNote = env.length > 0 ? `; env ${env.join(", ")}` : "; flag only";
    lines.push(`${left[i]!.padEnd(width)}${spec.help} (default ${defaultText(k)}${rangeNote}${envNote})`);
  });
  lines.push(`  -h, --help`.padEnd(width) + "show this help");
  return lines.join("\n") + "\n";
}

export function topHelp(): string {
  const lines = [
    "antimetal-agent: Kubernetes and host infrastructure agent",
    "",
    "Usage: antimetal-agent <command> [flags]",
    "",
    "Commands:",
  ];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(9)}${c.summary.split("\n")[0]}`);
  lines.push("", 'Run "antimetal-agent <command> --help" for the flags of a command.');
  return lines.join("\n") + "\n";
}
