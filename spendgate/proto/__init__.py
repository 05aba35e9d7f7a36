"""Generated gRPC modules of flags.proto (tools/gen_proto.sh)."""
