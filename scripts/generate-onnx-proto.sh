#!/usr/bin/env bash
# Regenerates Sources/ONNXProto from the onnx-ml.proto of the pinned onnx release, with the
# protoc-gen-swift of the swift-protobuf this package depends on.
#   scripts/generate-onnx-proto.sh          rewrite Sources/ONNXProto
#   scripts/generate-onnx-proto.sh --check  regenerate into a temporary folder and fail if
#                                           anything differs from what is committed (CI runs this)
# Needs: protoc (Debian: protobuf-compiler), python3, and PyPI for the pinned onnx wheel.
set -euo pipefail
ONNX_VERSION=1.23.2
check=0
[[ "${1:-}" == "--check" ]] && check=1
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v protoc >/dev/null || { echo "protoc not found (Debian: apt-get install protobuf-compiler)" >&2; exit 2; }
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$work/wheel" "onnx==$ONNX_VERSION"
python3 - "$work" <<'PY'
import sys, zipfile, glob
work = sys.argv[1]
whl = glob.glob(work + "/wheel/*.whl")[0]
with zipfile.ZipFile(whl) as z:
    open(work + "/onnx-ml.proto", "wb").write(z.read("onnx/onnx-ml.proto"))
PY

# The plugin of the swift-protobuf version Package.swift resolves, so generator and runtime agree.
(cd "$here" && swift build --product protoc-gen-swift >/dev/null)
plugin="$(cd "$here" && swift build --product protoc-gen-swift --show-bin-path)/protoc-gen-swift"

out="$work/out"
mkdir -p "$out"
cp "$work/onnx-ml.proto" "$out/onnx-ml.proto"
protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Public --swift_out="$out" -I "$out" "$out/onnx-ml.proto"

target="$here/Sources/ONNXProto"
if [[ $check == 1 ]]; then
  status=0
  for f in onnx-ml.proto onnx-ml.pb.swift; do
    if ! cmp -s "$out/$f" "$target/$f"; then
      echo "Sources/ONNXProto/$f differs from what scripts/generate-onnx-proto.sh produces:" >&2
      diff -u "$target/$f" "$out/$f" | head -40 >&2 || true
      status=1
    fi
  done
  [[ $status == 0 ]] && echo "Sources/ONNXProto matches onnx $ONNX_VERSION regenerated with protoc $(protoc --version | cut -d' ' -f2)"
  exit $status
fi
cp "$out/onnx-ml.proto" "$out/onnx-ml.pb.swift" "$target/"
echo "regenerated $target from onnx $ONNX_VERSION"
