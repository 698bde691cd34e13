#!/usr/bin/env bash
# Builds narrow and runs the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
export NARROW_PROGRESS=off
ctest --test-dir build --output-on-failure -j"$(nproc)" --no-tests=error
