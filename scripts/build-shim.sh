#!/usr/bin/env bash
# Builds the native shim (csrc/) against a libtorch into build/, cached by a hash of the
# sources, the compiler flags and the libtorch location (its include and lib directories). Prints the path of the built library.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: build-shim.sh INCLUDE_DIR LIB_DIR ABI(0|1)"
incdir=${1:?$usage}
libdir=${2:?$usage}
abi=${3:?$usage}
[ -d "$incdir/torch" ] || { echo "build-shim: $incdir has no torch/ headers" >&2; exit 2; }
[ -f "$libdir/libtorch.so" ] || { echo "build-shim: $libdir has no libtorch.so" >&2; exit 2; }
libs=(-ltorch -ltorch_cpu -lc10)
# CUDA builds: link the CUDA parts without --as-needed or CUDA silently disappears.
[ -f "$libdir/libtorch_cuda.so" ] && libs+=(-ltorch_cuda)
[ -f "$libdir/libc10_cuda.so" ] && libs+=(-lc10_cuda)
flags=(-std=c++17 -O2 -fPIC -shared -Wno-c++20-extensions "-D_GLIBCXX_USE_CXX11_ABI=$abi"
  -I"$incdir" -I"$incdir/torch/csrc/api/include")
key=$( (cat "$root"/csrc/*.cpp; echo "${flags[*]} ${libs[*]} $libdir") | sha256sum | cut -c1-16)
out="$root/build/libdgtorch-$key.so"
if [ ! -f "$out" ]; then
  mkdir -p "$root/build"
  echo "build-shim: compiling csrc/ against $libdir (ABI=$abi) ..." >&2
  g++ "${flags[@]}" "$root"/csrc/*.cpp -o "$out.tmp" -L"$libdir" \
    -Wl,--no-as-needed "${libs[@]}" -Wl,--as-needed -Wl,-rpath,"$libdir"
  mv "$out.tmp" "$out"
fi
echo "$out"
