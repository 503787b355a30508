#!/usr/bin/env bash
# Installs normlab's Debian dependencies, idempotently: packages already present are skipped,
# `apt-get update` runs only when something is missing, and `sudo` is used when not root.
#   scripts/install-deps.sh           build + test + data packages
#   scripts/install-deps.sh --bench   also PyTorch (python3-torch), the peer for `normlab bench`
#   scripts/install-deps.sh --fuzz    also clang (libFuzzer), for `make fuzz` only
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libopenblas-dev libcli11-dev nlohmann-json3-dev catch2 zlib1g-dev
  # the lab: Student-t quantiles (Boost.Math, header-only) and report figures
  libboost-math-dev gnuplot-nox
  # data-parallel training (docs/distributed.md): Open MPI, its mpirun and headers
  openmpi-bin libopenmpi-dev
  # data sets used by data/ (Fashion-MNIST IDX files, word lists for word -> language)
  dataset-fashion-mnist wamerican wfrench wngerman witalian wspanish wdutch
)
if [[ ${1:-} == --bench ]]; then packages+=(python3-torch python3-numpy gcc); fi
if [[ ${1:-} == --fuzz ]]; then packages+=(clang); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
