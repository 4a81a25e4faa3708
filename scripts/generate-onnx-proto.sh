#!/usr/bin/env bash
# Regenerates Sources/ONNXProto from the onnx-ml.proto of the pinned onnx release.
# Needs: protoc (Debian: protobuf-compiler), python3, and network access to PyPI for
# the pinned onnx wheel. The generated Swift is committed; CI never runs this.
set -euo pipefail
ONNX_VERSION=1.23.2
SWIFT_PROTOBUF_VERSION=1.39.0
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$work/wheel" "onnx==$ONNX_VERSION"
python3 - "$work" <<'PY'
import sys, zipfile, glob
work = sys.argv[1]
whl = glob.glob(work + "/wheel/*.whl")[0]
with zipfile.ZipFile(whl) as z:
    open(work + "/onnx-ml.proto", "wb").write(z.read("onnx/onnx-ml.proto"))
PY

git clone --quiet --depth 1 --branch "$SWIFT_PROTOBUF_VERSION" https://github.com/apple/swift-protobuf "$work/swift-protobuf"
(cd "$work/swift-protobuf" && swift build -c release --product protoc-gen-swift >/dev/null)

out="$here/Sources/ONNXProto"
cp "$work/onnx-ml.proto" "$out/onnx-ml.proto"
protoc --plugin=protoc-gen-swift="$work/swift-protobuf/.build/release/protoc-gen-swift" \
  --swift_opt=Visibility=Public --swift_out="$out" -I "$out" "$out/onnx-ml.proto"
echo "regenerated $out from onnx $ONNX_VERSION with swift-protobuf $SWIFT_PROTOBUF_VERSION"
