#!/usr/bin/env bash
# The main job: builds narrow, then samples the sequential space uniformly and analyses every
# architecture drawn (parameters, MACs, memory), with the reference models next to it.
# Writes runs/quickstart/samples.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
mkdir -p runs/quickstart
./build/bin/narrow plugins
./build/bin/narrow describe --space sequential --reference lenet5
./build/bin/narrow sample --space sequential --count 100000 --seed 1 \
  --csv runs/quickstart/samples.csv
