// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parser for os-release(5) (/etc/os-release, /usr/lib/os-release): shell-style KEY=value assignments,
// the source of node_os_info and node_os_version.

/** The os-release keys node_exporter labels node_os_info with, in its label order. */
export const OS_RELEASE_LABELS = [
  ["build_id", "BUILD_ID"],
  ["id", "ID"],
  ["id_like", "ID_LIKE"],
  ["image_id", "IMAGE_ID"],
  ["image_version", "IMAGE_VERSION"],
  ["name", "NAME"],
  ["pretty_name", "PRETTY_NAME"],
  ["variant", "VARIANT"],
  ["variant_id", "VARIANT_ID"],
  ["version", "VERSION"],
  ["version_codename", "VERSION_CODENAME"],
  ["version_id", "VERSION_ID"],
] as const;

/** Every assignment of the file, values unquoted and unescaped. */
export type OSRelease = Record<string, string>;

/**
 * Parses os-release text. Blank lines and # comments are skipped; values may be bare, "double quoted"
 * (backslash escapes \$ \" \\ \`) or 'single quoted'. A line that is not KEY=value throws naming the line.
 */
export function parseOSRelease(text: string, file = "os-release"): OSRelease {
  const out: OSRelease = {};
  const rows = text.split("\n");
  for (let i = 0; i < rows.length; i++) {
    const line = rows[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`${file} line ${i + 1}: not a KEY=value assignment: ${JSON.stringify(line)}`);
    out[m[1]!] = unquote(m[2]!, file, i + 1);
  }
  return out;
}

function unquote(raw: string, file: string, lineNo: number): string {
  const q = raw[0];
  if (q !== '"' && q !== "'") return raw.replace(/\\(.)/g, "$1");
  let out = "";
  for (let i = 1; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === q) return out;
    if (q === '"' && c === "\\" && i + 1 < raw.length) {
      const next = raw[i + 1]!;
      if ('$"\\`'.includes(next)) {
        out += next;
        i++;
        continue;
      }
    }
    out += c;
  }
  throw new Error(`${file} line ${lineNo}: unterminated quote in ${JSON.stringify(raw)}`);
}

/**
 * node_os_version's value: the leading major[.minor] of VERSION_ID as a number (node_exporter's
 * ^[0-9]+\.?[0-9]*), or undefined when VERSION_ID has none (then the family is not served).
 */
export function osVersionNumber(versionId: string | undefined): number | undefined {
  const m = /^[0-9]+\.?[0-9]*/.exec(versionId ?? "");
  if (!m) return undefined;
  const v = Number.parseFloat(m[0]);
  return v > 0 ? v : undefined;
}
