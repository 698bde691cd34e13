#!/usr/bin/env bash
# Installs the Debian packages narrow needs, only those that are missing.
# Does nothing (and needs no network) when everything is already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev
  libboost-program-options-dev libboost-graph-dev libboost-test-dev
  libboost-filesystem-dev libboost-dev
  libyaml-cpp-dev libtbb-dev libsqlite3-dev sqlite3
  libspdlog-dev libfmt-dev nlohmann-json3-dev libmpfr-dev libgmp-dev
  libbenchmark-dev libxxhash-dev libpcg-cpp-dev zlib1g-dev libeigen3-dev
  dataset-fashion-mnist
  # `narrow report` draws its plots with gnuplot, its texts in DejaVu Sans.
  gnuplot-nox fonts-dejavu-core
)
# Needed by the tests only: the report test renders index.html in a headless browser.
test_packages=(
  chromium
)
if [ "${NARROW_SETUP_NO_TEST_PACKAGES:-0}" != 1 ]; then
  packages+=("${test_packages[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present" >&2
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done" >&2
