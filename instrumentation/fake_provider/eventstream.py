"""The AWS event-stream binary framing that Bedrock's ConverseStream answers in.

Each message: total length and headers length (big-endian uint32), a CRC32 of
those 8 bytes, the headers (name length, name, type 7 = string, value length,
value), the payload, and a CRC32 of everything before it.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

_STRING = 7


def _header(name: str, value: str) -> bytes:
    name_bytes, value_bytes = name.encode(), value.encode()
    return (
        struct.pack(">B", len(name_bytes))
        + name_bytes
        + struct.pack(">BH", _STRING, len(value_bytes))
        + value_bytes
    )


def event_message(event_type: str, payload: dict[str, Any]) -> bytes:
    headers = (
        _header(":event-type", event_type)
        + _header(":content-type", "application/json")
        + _header(":message-type", "event")
    )
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + headers + body
    return message + struct.pack(">I", zlib.crc32(message))
