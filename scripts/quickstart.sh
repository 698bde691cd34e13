#!/usr/bin/env bash
# The main job: builds narrow, samples the sequential space uniformly and analyses every
# architecture drawn (parameters, MACs, memory), then runs experiments/quickstart.yaml, which
# learns sampling laws for weight-memory windows, draws candidates from them under a memory
# budget, trains a selection and the space's reference models shrunk to 4 KiB and 16 KiB on
# Fashion-MNIST, and evaluates them in reduced-precision formats; then writes the report.
# Writes runs/quickstart-samples.csv, runs/quickstart-<UTC time>/results.db and its report/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh narrow narrow_builtin_plugins

./build/bin/narrow plugins
./build/bin/narrow describe --space sequential --reference lenet5
mkdir -p runs
./build/bin/narrow sample --space sequential --count 100000 --seed 1 --csv runs/quickstart-samples.csv

# The experiment, then its report: tables, plots and index.html in OUT/report, and on stdout
# where the search stands against the shrunk references.
out="runs/quickstart-$(date -u +%Y%m%d-%H%M%S)"
./build/bin/narrow run experiments/quickstart.yaml --out "$out"
./build/bin/narrow report "$out" --out "$out/report"
