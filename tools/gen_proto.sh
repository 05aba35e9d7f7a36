#!/bin/sh
# Regenerate the Python modules of instrumentation/proto/flags.proto (needs grpcio-tools).
# The proto is compiled from a spendgate/instrumentation/proto/ tree so the generated
# modules import each other by their installed names.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/spendgate/instrumentation/proto"
cp "$root/instrumentation/proto/flags.proto" "$tmp/spendgate/instrumentation/proto/"
python -m grpc_tools.protoc -I "$tmp" --python_out="$tmp" --pyi_out="$tmp" --grpc_python_out="$tmp" \
    "$tmp/spendgate/instrumentation/proto/flags.proto"
cp "$tmp"/spendgate/instrumentation/proto/flags_pb2*.py* "$root/instrumentation/proto/"
