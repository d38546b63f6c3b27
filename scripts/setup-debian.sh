#!/usr/bin/env bash
# Installs, with apt, everything fedchain's build, tests and quickstart need on Debian 12.
# Idempotent: packages already present are left alone and apt is not called at all.
# CUDA and NCCL are not installed here: fedchain builds without them and picks them up
# from /usr/local/cuda when present (FEDCHAIN_CUDA=AUTO).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ccache
  openmpi-bin libopenmpi-dev
  libhdf5-openmpi-dev hdf5-tools
  libeigen3-dev libssl-dev zlib1g-dev
  libdnnl-dev ocl-icd-opencl-dev  # oneDNN (the CPU backend's convolutions, dense layers); its CMake config asks for OpenCL
  libgtest-dev libgmock-dev
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  clang clang-format libclang-rt-14-dev
  dataset-fashion-mnist
  python3-h5py python3-matplotlib python3-numpy python3-pil
  # Tests only: e2e_report opens `fedchain report`'s page in headless Chromium (about 360 MB
  # installed, a minute of apt on a 2-core VM).
  chromium
  python3-torch  # tests/e2e/export_e2e.sh: exported models against fedchain's logits
  slurm-wlm munge
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-debian: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "setup-debian: installing ${#missing[@]} missing packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-debian: error: not root, and these packages are missing: ${missing[*]}" >&2
  echo "setup-debian: run this script as root (or with sudo), or install them yourself" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# slurm-wlm starts nothing here: there is no systemd in the build containers, and the
# Slurm tests start their own daemons under a temp folder.
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup-debian: done"
