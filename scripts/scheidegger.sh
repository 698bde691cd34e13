#!/usr/bin/env bash
# The whole Scheidegger et al. pipeline on Fashion-MNIST (experiments/scheidegger_fashion_mnist.yaml):
# calibrates this machine's latency on the experiment's spaces once (the `calibrated` device
# of the experiment reads runs/host-calibration-fashion-mnist.json), runs the experiment (or
# resumes it when its folder holds a run already), and writes the report.
#   bash scripts/scheidegger.sh [RUN-FOLDER]      default runs/scheidegger_fashion_mnist
# About two hours on 2 cores; kill it at any time and start it again to continue.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh narrow narrow_builtin_plugins
mkdir -p runs
calibration=runs/host-calibration-fashion-mnist.json
if [ ! -f "$calibration" ]; then
  ./build/bin/narrow calibrate --experiment experiments/calibration_fashion_mnist.yaml \
    --count 150 --out "$calibration"
fi
out=${1:-runs/scheidegger_fashion_mnist}
resume=()
if [ -f "$out/results.db" ]; then resume=(--resume); fi
./build/bin/narrow run experiments/scheidegger_fashion_mnist.yaml --out "$out" "${resume[@]}"
./build/bin/narrow report "$out" --out "$out/report"
echo "report: $out/report/index.html"
