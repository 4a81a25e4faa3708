#!/usr/bin/env bash
# Replays every case of tests/fuzz_corpus (and the hand-built hostile cases, if onnx is
# installed to write them) under AddressSanitizer, each in its own process:
#   bash scripts/replay-corpus-asan.sh
# Builds swiftconv-conformance in debug mode with -sanitize=address (scratch path
# .build-asan; the first build takes several minutes) and runs `--smoke` on each case,
# which creates an InferenceSession and runs it once (outputs are not compared). A case
# fails if the process dies (an ASan report, a trap) or takes longer than 120 s; a clean
# SwiftConvError is a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
# The linker warns once per ASan helper symbol; those lines are noise.
swift build -c debug -Xswiftc -sanitize=address --product swiftconv-conformance --scratch-path .build-asan 2>&1 |
    grep -v "warning: Cannot export local symbol"
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
tool=.build-asan/debug/swiftconv-conformance
cases=(tests/fuzz_corpus/*/)
hostile=$(mktemp -d)
trap 'rm -rf "$hostile"' EXIT
if python3 -c "import onnx" 2>/dev/null; then
    # loop_trip_2p62_terminated ends only because the Python test sets RunOptions.terminate.
    for name in $(python3 tests/hostile_cases.py --list | awk '{print $2}' | grep -v '^loop_trip_2p62_terminated$'); do
        python3 tests/hostile_cases.py --write "$name" "$hostile/$name" >/dev/null 2>&1 && cases+=("$hostile/$name/")
    done
fi
failed=0
for case in "${cases[@]}"; do
    if ! out=$(SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 timeout 120 "$tool" --smoke "$case" 2>&1); then
        failed=$((failed + 1))
        echo "FAILED $case"
        echo "$out" | grep -E "ERROR: AddressSanitizer|Fatal error|SUMMARY|^ +#[0-9]+ .*Sources" | head -12
    fi
done
echo "asan replay: ${#cases[@]} cases, $((${#cases[@]} - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
