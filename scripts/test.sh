#!/usr/bin/env bash
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# The whole test suite: setup (installs and builds everything), static checks (license headers and
# purpose comments, tsc, Biome lint/format/import cycles, generated code up to date), then bun test per group (unit tests under src/, then each
# test/<concern>/ in its own process so a crash in one cannot hide the others' results).
# Prints "N passed, N failed" last; exits non-zero if anything failed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[[ "${SKIP_SETUP:-}" == 1 ]] || bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

BUN="$ROOT/node_modules/.bin/bun"
OUT="$ROOT/.test-out"
rm -rf "$OUT"; mkdir -p "$OUT"
passed=0; failed=0; failures=()

check() { # name, command...
  local name="$1"; shift
  if "$@" >"$OUT/check-$name.log" 2>&1; then passed=$((passed + 1)); echo "check $name: ok"
  else failed=$((failed + 1)); failures+=("check $name"); echo "check $name: FAILED"; tail -30 "$OUT/check-$name.log"; fi
}
check license "$BUN" scripts/license-check.ts
check typecheck "$ROOT/node_modules/.bin/tsc" --noEmit -p tsconfig.json
# Biome: formatting, import order (and no duplicate imports), no import cycles, no floating promises, lint
check lint "$ROOT/node_modules/.bin/biome" ci --error-on-warnings .
check proto-generated "$BUN" scripts/gen-proto.ts --check
# every package the code and tests import is declared, and nothing declared goes unused
check deps "$BUN" scripts/check-deps.ts
[[ -f scripts/gen-ebpf-types.ts ]] && check ebpf-types-generated "$BUN" scripts/gen-ebpf-types.ts --check

groups=(src)
for d in test/*/; do compgen -G "$d*.test.ts" >/dev/null && groups+=("${d%/}"); done
for g in "${groups[@]}"; do
  name="${g//\//_}"
  echo "=== bun test $g"
  "$BUN" test "./$g" --timeout 180000 --reporter=junit --reporter-outfile="$OUT/$name.xml" 2>&1 | tee "$OUT/$name.log" | grep -E '^\(fail\)|^error:|^ *[0-9]+ (pass|fail)|^Ran ' 
  rc=${PIPESTATUS[0]}
  line=$(grep -o '<testsuites[^>]*>' "$OUT/$name.xml" 2>/dev/null | head -1)
  tests=$(sed -n 's/.* tests="\([0-9]*\)".*/\1/p' <<<"$line"); fails=$(sed -n 's/.* failures="\([0-9]*\)".*/\1/p' <<<"$line")
  skips=$(sed -n 's/.* skipped="\([0-9]*\)".*/\1/p' <<<"$line")
  if [[ -z "$tests" ]]; then
    failed=$((failed + 1)); failures+=("$g: runner crashed (exit $rc), see $OUT/$name.log"); tail -40 "$OUT/$name.log"; continue
  fi
  fails=${fails:-0}; skips=${skips:-0}
  passed=$((passed + tests - fails - skips)); failed=$((failed + fails))
  if (( rc != 0 && fails == 0 )); then failed=$((failed + 1)); failures+=("$g: exit $rc with no failed test (error between tests)"); tail -40 "$OUT/$name.log"
  elif (( fails > 0 )); then
    # the names, so the summary at the end (often all of the output one sees) says which tests failed
    names=$(grep -E '^\(fail\)' "$OUT/$name.log" | head -5 | sed 's/^(fail) //' | paste -sd ';' -)
    failures+=("$g: $fails failed: $names")
  fi
done

if (( ${#failures[@]} > 0 )); then printf 'FAILED: %s\n' "${failures[@]}"; fi
echo "$passed passed, $failed failed"
(( failed == 0 ))
