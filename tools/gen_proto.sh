#!/bin/sh
# Regenerate the Python modules of spendgate/proto/flags.proto (needs grpcio-tools).
# Compiled from the repository root so the generated modules import each other by
# their installed names (spendgate.proto.flags_pb2).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. spendgate/proto/flags.proto
