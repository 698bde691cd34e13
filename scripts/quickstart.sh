#!/usr/bin/env bash
# The main job: builds narrow, samples the sequential space uniformly and analyses every
# architecture drawn (parameters, MACs, memory), then runs experiments/quickstart.yaml, which
# samples under a memory budget and trains the selected candidates on Fashion-MNIST.
# Writes runs/quickstart-samples.csv and runs/quickstart-<UTC time>/results.db.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh narrow narrow_builtin_plugins

./build/bin/narrow plugins
./build/bin/narrow describe --space sequential --reference lenet5
mkdir -p runs
./build/bin/narrow sample --space sequential --count 100000 --seed 1 --csv runs/quickstart-samples.csv

# The experiment: restricted laws under a 64 KiB weight and activation budget, then 10
# models trained on Fashion-MNIST; every draw and training stored in
# runs/quickstart-<UTC time>/results.db.
./build/bin/narrow run experiments/quickstart.yaml
