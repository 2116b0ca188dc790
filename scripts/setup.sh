#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# Installs everything the agent and its tests need on a fresh Debian 12 machine with Node/npm and
# apt: the Debian packages listed in scripts/setup.d/*.apt, the npm packages (Bun among them),
# then every scripts/setup.d/*.sh in name order (eBPF build, test kube-apiserver, ..., and the
# compiled binary last). Idempotent: a second run only checks.
#
#   bash scripts/setup.sh              everything: what running the agent needs and every test tool (npm test)
#   bash scripts/setup.sh --run-only   only what running the agent needs (npm start): the setup.d files
#                                      that carry a line `# needed-to-run`; their .sh steps see
#                                      ANTIMETAL_SETUP_RUN_ONLY=1 and build for this host only
#   --list                             print the Debian packages and steps of the mode, install nothing
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
RUN_ONLY=0
LIST=0
for a in "$@"; do
  case "$a" in
    --run-only) RUN_ONLY=1 ;;
    --list) LIST=1 ;;
    *) echo "setup: unknown argument $a (use --run-only, --list or nothing)" >&2; exit 2 ;;
  esac
done
export ANTIMETAL_SETUP_RUN_ONLY=$RUN_ONLY

# The setup.d files of this mode, in name order (a glob sorts them).
steps() { # extension
  local f
  for f in scripts/setup.d/*."$1"; do
    [[ -e "$f" ]] || continue
    if (( RUN_ONLY == 0 )) || grep -qx '# needed-to-run' "$f"; then echo "$f"; fi
  done
}
mapfile -t apt_files < <(steps apt)
mapfile -t sh_files < <(steps sh)

mapfile -t wanted < <(cat "${apt_files[@]}" /dev/null | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u)
if (( LIST == 1 )); then
  printf 'apt %s\n' "${wanted[@]}"
  printf 'step %s\n' "${sh_files[@]##*/}"
  exit 0
fi
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if (( ${#missing[@]} > 0 )); then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -x node_modules/.bin/bun || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

for f in "${sh_files[@]}"; do
  echo "setup: $(basename "$f")"
  bash "$f"
done
