"""cost.recorded for a block of stored calls, column by column (one event per call, at ingest rates).

The id is the call's identity (``call-`` + the hex of its call key), so a call has one event id ever;
``data`` is the JSON object of seed 003's fields, built with Arrow string kernels. Strings that JSON
must escape (quotes, backslashes, control characters) are rare: those columns go through json.dumps.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from spendgate.collector.events.batch import SCHEMA
from spendgate.collector.ingest.fixed_costs import INFRASTRUCTURE

_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


def _hex(keys: pa.ChunkedArray) -> pa.Array:
    array = keys.combine_chunks()
    width = array.type.byte_width
    data = np.frombuffer(array.buffers()[1], dtype=np.uint8)
    data = data[array.offset * width : (array.offset + len(array)) * width]
    hexed = _HEX[data].view(f"S{2 * width}")
    return pa.array(hexed, pa.binary()).cast(pa.string())


def _json_string(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Each value as a JSON string literal."""
    values = pc.fill_null(column, "")
    if pc.any(pc.match_substring_regex(values, _NEEDS_ESCAPE)).as_py():
        return pa.array([json.dumps(value) for value in values.to_pylist()], pa.string())
    return pc.binary_join_element_wise('"', values, '"', "")


def _decimal_string(column: pa.ChunkedArray) -> pa.Array:
    """Decimals as the shortest exact string: 0.0045, 100, 0 (Arrow writes 0.004500..., 0E-18)."""
    text = pc.cast(column, pa.string())
    text = pc.replace_substring_regex(text, r"^0E-\d+$", "0")
    text = pc.replace_substring_regex(text, r"(\.\d*?)0+$", r"\1")
    return pc.replace_substring_regex(text, r"\.$", "")


def cost_recorded(block: pa.Table) -> pa.Table:
    """The events of a block of llm_spans rows, in the events batch form (events/batch.py); a
    local model's daily fixed-cost row is not a call and has none."""
    block = block.filter(pc.not_equal(block.column("operation"), INFRASTRUCTURE))
    rows = block.num_rows
    response, request = block.column("response_model"), block.column("request_model")
    model = pc.if_else(pc.equal(pc.fill_null(response, ""), ""), request, response)
    tokens = pc.add(block.column("input_tokens"), block.column("output_tokens"))
    data = pc.binary_join_element_wise(
        '{"task_id":',
        _json_string(block.column("task")),
        ',"agent_id":',
        _json_string(block.column("agent")),
        ',"provider":',
        _json_string(block.column("provider")),
        ',"model":',
        _json_string(model),
        ',"total_cost":"',
        _decimal_string(block.column("total_cost")),
        '","total_tokens":',
        pc.cast(tokens, pa.string()),
        "}",
        "",
    )
    columns = [
        pc.binary_join_element_wise("call-", _hex(block.column("call_key")), ""),
        pa.array(["cost.recorded"] * rows, pa.string()),
        pc.cast(block.column("end_time"), SCHEMA.field("time").type),
        data,
    ]
    return pa.Table.from_arrays(columns, schema=SCHEMA)
