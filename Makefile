# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

BUN := node_modules/.bin/bun

.PHONY: run test setup build check bench release

# Run the agent on this host: standalone, embedded SQLite store, no cloud account needed.
run:
	bash scripts/run-local.sh $(ARGS)

# Everything: setup, static checks, unit + integration tests; prints "N passed, N failed".
test:
	bash scripts/test.sh

setup:
	bash scripts/setup.sh

build:
	$(BUN) scripts/build.ts

check:
	bash -c 'SKIP_SETUP=1 bash scripts/test.sh'

bench:
	bash bench/run.sh $(CONCERN)

# Both binaries, OCI image archives, deploy bundle, SPDX SBOM and SHA256SUMS in dist/release.
release: setup
	$(BUN) scripts/release.ts
