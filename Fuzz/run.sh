#!/usr/bin/env bash
# Builds the fuzz targets (libFuzzer and AddressSanitizer, Fuzz/.build) and
# runs each for SECONDS, one after the other. Fails on any crash, hang,
# leak or out-of-memory, and prints each target's executions.
#
#   Fuzz/run.sh SECONDS [TARGET...]
#   targets: bzimage image devicetree memmap machine cmdline cli planner preflight
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:?usage: Fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(bzimage image devicetree memmap machine cmdline cli planner preflight)
corpus=$root/.build/fuzz-corpus
artifacts=$root/.build/fuzz-artifacts
logs=$root/.build/fuzz-logs
cache=${HANDOFF_LAB_CACHE:-$HOME/.cache/handoff-lab}
export PATH=$PATH:/opt/swift/usr/bin
mkdir -p "$artifacts" "$logs"

# the build: coverage and ASan in Handoff's modules too, optimised as shipped
started=$SECONDS
(cd "$root/Fuzz" && swift build -c release -Xswiftc -sanitize=fuzzer,address 2>&1 |
  grep -v "Cannot export local symbol '__asan_extra_spill_area'" | tail -n 3)
bin=$root/Fuzz/.build/release
echo "fuzz build: $((SECONDS - started)) s"

bash "$root/Fuzz/seeds.sh"

# the planner, machine and cli targets load the head of a real kernel when there is one
kernel=$(ls "$cache"/kernels/*/vmlinuz 2>/dev/null | head -n 1 || true)
if [ -n "$kernel" ]; then
  export HANDOFF_FUZZ_KERNEL=$kernel
  echo "kernel header from $kernel"
else
  echo "no lab kernel in $cache/kernels: a handmade header stands in"
fi
# a trap goes to libFuzzer's handler, not to Swift's backtracer (which ASan trips over)
export SWIFT_BACKTRACE=enable=no
export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer || true)}

failed=()
for target in "${targets[@]}"; do
  log=$logs/$target.log
  mkdir -p "$corpus/$target"
  status=0
  "$bin/fuzz-$target" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$target-" \
    -dict="$root/Fuzz/dicts/$target.dict" "$corpus/$target" "$root/Fuzz/seeds/$target" \
    >"$log" 2>&1 || status=$?
  executions=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
  units=$(find "$corpus/$target" -type f | wc -l)
  if [ "$status" -eq 0 ]; then
    printf '%-8s %10s executions in %s s, corpus %s inputs\n' \
      "$target" "${executions:-?}" "$seconds" "$units"
  else
    printf '%-8s FAILED (exit %s) after %s executions; log %s\n' \
      "$target" "$status" "${executions:-?}" "$log"
    grep -E "==ERROR|SUMMARY|Fatal error|artifact_prefix|Test unit written" \
      "$log" | head -n 12 | sed 's/^/    /'
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing failed: ${failed[*]}; replay an input with" \
    "SWIFT_BACKTRACE=enable=no HANDOFF_FUZZ_KERNEL=${HANDOFF_FUZZ_KERNEL:-}" \
    "Fuzz/.build/release/fuzz-TARGET FILE"
  exit 1
fi
