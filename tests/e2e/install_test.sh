#!/usr/bin/env bash
# `cmake --install` into a temporary prefix lays out what a distribution expects, and a C
# program builds against the installed header and library with pkg-config and runs.
#   install_test.sh BUILD_DIR
set -euo pipefail
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
fail() { echo "install_test: $*" >&2; exit 1; }
for tool in rsp-registrar rsp-register rsp-resolve rsp-send rsp-echo-pe rsp-cat; do
  [[ -x $prefix/bin/$tool ]] || fail "bin/$tool missing"
  [[ -f $prefix/share/man/man1/$tool.1 ]] || fail "man1/$tool.1 missing"
  [[ -f $prefix/share/bash-completion/completions/$tool ]] || fail "bash completion for $tool missing"
  "$prefix/bin/$tool" --version | grep -q 'rsptools' || fail "$tool --version does not run from the prefix"
done
[[ -f $prefix/share/man/man3/rsp_sendmsg.3 ]] || fail "man3/rsp_sendmsg.3 missing"
[[ -f $prefix/lib/systemd/system/rsp-registrar.service ]] || fail "systemd unit not under the prefix"
[[ -f $prefix/lib/cmake/rsp/rspConfig.cmake ]] || fail "CMake package config missing"
libdir=$(dirname "$(find "$prefix" -name rsp.pc | head -n1)")
[[ -n $libdir ]] || fail "rsp.pc missing"
cat > "$prefix/consumer.c" <<'C'
#include <rsp/rsp.h>
#include <stdio.h>
int main(void) { printf("%d\n", RSP_POOL_HANDLE != 0); return 0; }
C
flags=$(PKG_CONFIG_PATH=$libdir pkg-config --cflags --libs rsp)
# shellcheck disable=SC2086
cc -o "$prefix/consumer" "$prefix/consumer.c" $flags
LD_LIBRARY_PATH=$prefix/lib:$prefix/lib/x86_64-linux-gnu "$prefix/consumer" | grep -q 1 || fail "consumer did not run"
# The CMake package: find_package(rsp) and link the shared library target.
mkdir -p "$prefix/cmake-consumer"
cat > "$prefix/cmake-consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(consumer C CXX)
find_package(rsp REQUIRED)
add_executable(consumer ../consumer.c)
target_link_libraries(consumer PRIVATE rsp::rsp_shared)
CM
cmake -S "$prefix/cmake-consumer" -B "$prefix/cmake-consumer/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_COMPILER_LAUNCHER= >/dev/null || fail "find_package(rsp) failed"
cmake --build "$prefix/cmake-consumer/build" >/dev/null || fail "linking rsp::rsp_shared failed"
LD_LIBRARY_PATH=$prefix/lib:$prefix/lib/x86_64-linux-gnu "$prefix/cmake-consumer/build/consumer" | grep -q 1 ||
  fail "CMake consumer did not run"
echo "install_test: ok"
