// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The HTML landing page served at `/` of the metrics listener (as node_exporter's): the agent's version
// and a link to /metrics, so a person who opens the port in a browser sees where the metrics are.

import type { BuildInfo } from "../build-info.ts";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** The landing page's HTML for this build. */
export function renderLandingPage(build: BuildInfo): string {
  const version = escapeHtml(build.version);
  const revision = escapeHtml(build.revision);
  const date = escapeHtml(build.date);
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>antimetal-agent</title></head>
<body>
<h1>antimetal-agent</h1>
<p>Version ${version} (revision ${revision}, built ${date})</p>
<ul>
<li><a href="/metrics">Metrics</a> (Prometheus text format 0.0.4)</li>
</ul>
</body>
</html>
`;
}
