#!/usr/bin/env bash
# Sanitizer runs (not part of every CI run: they rebuild everything instrumented and take minutes).
#   bash scripts/sanitize.sh asan   # ASan + UBSan: the Catch2 tests, the pytest suite, a fuzz smoke
#   bash scripts/sanitize.sh tsan   # TSan: the Catch2 tests and the LNC2 (two-program) pytest tests
#   bash scripts/sanitize.sh        # both
# Each builds into build/<mode> (the library, the Catch2 tests and nki._core), assembles the nki
# package there (build/<mode>/pkg) and runs it with the sanitizer runtime preloaded into Python.
# Any report fails the run (halt_on_error). Leak checking is off: CPython does not free at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh
VPY="$PWD/.venv/bin/python"
ROOT="$PWD"
JOBS=${JOBS:-2}

build() {  # build <mode> <sanitizer flags>
  local dir="build/$1" flags="$2"
  echo "== building $dir ($flags)"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNKISIM_TESTS=ON \
    -DNKISIM_PYTHON=ON -DPython_EXECUTABLE="$VPY" \
    -Dpybind11_DIR="$("$VPY" -m pybind11 --cmakedir)" \
    -DCMAKE_CXX_FLAGS="$flags -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" >/dev/null
  nice cmake --build "$dir" -j "$JOBS"
  rm -rf "$dir/pkg" && mkdir -p "$dir/pkg"
  cp -r python/nki "$dir/pkg/nki"
  cp "$dir"/_core*.so "$dir/pkg/nki/"
}

asan() {
  build asan "-fsanitize=address,undefined -fno-sanitize-recover=undefined"
  local pre
  # libstdc++ too: python does not link it, and ASan's __cxa_throw interceptor needs it at startup.
  pre="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libstdc++.so)"
  export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  echo "== asan: ctest"
  ctest --test-dir build/asan --output-on-failure -j "$JOBS"
  echo "== asan: pytest"
  (cd /tmp && PYTHONPATH="$ROOT/build/asan/pkg" PYTHONMALLOC=malloc LD_PRELOAD="$pre" \
    "$VPY" -m pytest -q -s -p no:cacheprovider "$ROOT/tests/python")  # -s: reports reach stderr
  echo "== asan: fuzz smoke"
  PYTHONPATH="$ROOT/build/asan/pkg" PYTHONMALLOC=malloc LD_PRELOAD="$pre" \
    "$VPY" tests/fuzz/fuzz.py --seed "${NKI_FUZZ_SEED:-5}" --count "${NKI_FUZZ_COUNT:-2000}" \
    --timeout 120 --workers "$JOBS"
}

tsan() {
  build tsan "-fsanitize=thread"
  local pre
  pre="$(g++ -print-file-name=libtsan.so) $(g++ -print-file-name=libstdc++.so)"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/scripts/tsan.supp"
  echo "== tsan: ctest"
  ctest --test-dir build/tsan --output-on-failure -j "$JOBS"
  echo "== tsan: LNC2 pytest"
  (cd /tmp && PYTHONPATH="$ROOT/build/tsan/pkg" LD_PRELOAD="$pre" \
    "$VPY" -m pytest -q -s -p no:cacheprovider -k "lnc or LNC or grid or program" "$ROOT/tests/python")
}

case "${1:-all}" in
  asan) asan ;;
  tsan) tsan ;;
  all) asan; tsan ;;
  *) echo "usage: $0 [asan|tsan|all]" >&2; exit 2 ;;
esac
echo "== sanitizers clean"
