#!/usr/bin/env bash
# The README's test command: set up, build the two configurations CI needs once each, and
# run every test. Stages:
#   setup        install what is missing (scripts/setup.sh)
#   asan build   clang, ASan+UBSan: libraries, unit tests, fuzz targets
#   unit         ctest -L unit (under the sanitizers)
#   fuzz         every libFuzzer target for a bounded time on its corpus
#   release build programs, integration tests, benchmarks
#   integration  ctest -L integration (real nats-server, libnats, nats.js, our binaries)
#   bench        micro-benchmarks and comparisons; they print figures, they do not fail on them
# Prints the wall time of each stage, and a closing "N passed, N failed" line.
# Options: --skip STAGE (repeatable) leaves a stage out, for local iteration.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

skip=" "
while (($#)); do
  case "$1" in
    --skip) skip+="$2 "; shift 2 ;;
    *) echo "usage: scripts/test.sh [--skip setup|asan|unit|fuzz|release|integration|bench]..." >&2; exit 2 ;;
  esac
done

total_passed=0
total_failed=0
failed_stages=()
timings=()
declare -A stage_ok
failure_excerpts=$(mktemp)
trap 'rm -f "$failure_excerpts"' EXIT

run_stage() {  # run_stage NAME COMMAND...
  local name=$1; shift
  if [[ "$skip" == *" $name "* ]]; then
    echo "== $name: skipped"; timings+=("$(printf '%-12s skipped' "$name")"); stage_ok[$name]=1; return
  fi
  echo "== $name: $*"
  local start=$SECONDS log
  log=$(mktemp)
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local secs=$((SECONDS - start))
  # Count ctest results where the stage ran ctest.
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  if [[ -n "$line" ]]; then
    local failed total
    failed=$(sed -E 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
    total_passed=$((total_passed + total - failed))
    total_failed=$((total_failed + failed))
  fi
  if ((rc != 0)); then
    # What failed, kept for the end of the output (CI shows its tail): assertion lines with a
    # little context, sanitizer and fuzzer summaries, timeouts.
    grep -E -B2 -A6 '(: Failure$|^\[  FAILED  \] [A-Za-z]|SUMMARY: |ERROR: |runtime error|\*\*\*Timeout|\(Failed\)|\(Subprocess aborted\)|Exception: )' \
        "$log" | tail -n 150 >>"$failure_excerpts"
  fi
  rm -f "$log"
  if ((rc == 0)); then
    stage_ok[$name]=1
    timings+=("$(printf '%-12s %4ds  ok' "$name" "$secs")")
  else
    stage_ok[$name]=0
    failed_stages+=("$name")
    timings+=("$(printf '%-12s %4ds  FAILED (exit %d)' "$name" "$secs" "$rc")")
  fi
  echo "== $name: $([[ ${stage_ok[$name]} == 1 ]] && echo ok || echo FAILED) in ${secs}s"
}

needs() {  # needs STAGE: true when that stage succeeded (or was skipped)
  [[ "${stage_ok[$1]:-0}" == 1 ]]
}

build() {  # build PRESET
  cmake --preset "$1" >/dev/null && cmake --build --preset "$1"
}

run_stage setup ./scripts/setup.sh
if needs setup; then
  run_stage asan build asan
  needs asan && run_stage unit ctest --preset unit
  needs asan && run_stage fuzz ctest --preset fuzz
  run_stage release build ci-release
  needs release && run_stage integration ctest --preset integration
  needs release && run_stage bench ctest --preset bench
fi

if [[ -s "$failure_excerpts" ]]; then
  echo
  echo "== Failure excerpts (the full output is above)"
  cat "$failure_excerpts"
fi
echo
echo "== Stage times"
printf '   %s\n' "${timings[@]}"
echo
if ((${#failed_stages[@]})); then
  echo "FAILED stages: ${failed_stages[*]}"
fi
echo "meridian: ${total_passed} passed, ${total_failed} failed"
((${#failed_stages[@]} == 0))
