#!/usr/bin/env bash
# Install what rsptools needs to build and test on Debian 12, then configure and build.
# Idempotent: packages already present are not reinstalled; an up-to-date build is a no-op.
#   scripts/setup.sh [BUILD_DIR [extra cmake args...]]
set -euo pipefail
cd "$(dirname "$0")/.."

# Build and runtime: compiler, CMake, the fixed library choices.
packages=(g++ cmake ninja-build pkg-config ccache
          libcli11-dev libfmt-dev libboost-dev libsctp-dev lksctp-tools libusrsctp-dev
          doctest-dev nlohmann-json3-dev libbenchmark-dev)
# Tests: the fuzzer (clang + its runtime), tshark as an independent decoder, the kernel-SCTP VM,
# network namespaces and packet filters, a JSON parser for tool output, a pty for rsp-cat.
if [[ "${RSP_SETUP_TEST_DEPS:-1}" == 1 ]]; then
  packages+=(clang libclang-rt-14-dev tshark qemu-system-x86 busybox-static cpio kmod
             iproute2 iptables python3 tmux procps psmisc)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

build=${1:-build}
shift || true
cmake -S . -B "$build" -G Ninja "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
