#!/usr/bin/env bash
# Checks formatting without changing anything (CI runs it); `--fix` applies the formatters.
#   Swift:  swift-format (ships with the toolchain), configured by .swift-format files
#   Python: ruff format + ruff check, configured in pyproject.toml
# Generated code goes through swift-format in its generator, so it is checked like the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t swift_files < <(git ls-files '*.swift')
if [[ "${1:-}" == "--fix" ]]; then
  swift-format format --in-place --parallel "${swift_files[@]}"
  ruff check --fix --quiet .
  ruff format --quiet .
  exit 0
fi
status=0
swift-format lint --strict --parallel "${swift_files[@]}" || status=1
ruff format --check --quiet . || { echo "ruff format: files above need formatting (scripts/check-format.sh --fix)"; status=1; }
ruff check --quiet . || status=1
# docs/ARCHITECTURE.md, "No Foundation in the library": math comes from Glibc/Darwin, locks
# from Synchronization.
if foundation=$(git grep -l -E '^\s*import (Foundation|FoundationEssentials)\b' -- 'Sources/*.swift'); then
  echo "import Foundation in the library (see docs/ARCHITECTURE.md): $foundation"
  status=1
fi
[[ $status == 0 ]] && echo "format: Swift (${#swift_files[@]} files) and Python clean"
exit $status
