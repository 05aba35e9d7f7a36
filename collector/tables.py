"""Record types and their columns: the vocabulary of the storage port.

A record type is a dataclass; its columns are derived once from its fields (a
field's column has the field's name unless ``renamed``), and the same mapping
writes a record and reads it back by column name. Reading brings each value to
its field's type: Decimal and int as declared, and datetimes as UTC (every
DateTime column of the schema is UTC; ClickHouse hands them back naive).

:class:`RecordReader` and :class:`RecordWriter` are what a store offers for
them (``storage.Storage`` on ClickHouse; the unit tests keep records in memory).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")
# A value as the driver returns it (its type depends on the column): brought to the field's type.
_Read = Callable[[Any], object]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_READERS: dict[object, _Read] = {Decimal: Decimal, int: int, str: str, bool: bool, datetime: _utc}


def _reader(hint: object) -> _Read | None:
    """How to read a value of a field typed ``hint``; None: as it comes (a Literal, say)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        inner = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        read = _reader(inner[0]) if len(inner) == 1 else None
        if read is None:
            return None
        return lambda value: None if value is None else read(value)
    return _READERS.get(hint)


class Columns(Generic[R]):
    """The columns of a record type, for reading it back from a query's rows by column name."""

    def __init__(self, record: type[R], renamed: Mapping[str, str] | None = None) -> None:
        renamed = renamed or {}
        fields = tuple(field.name for field in dataclasses.fields(record))
        if unknown := set(renamed) - set(fields):
            raise ValueError(f"{record.__name__} has no field {', '.join(sorted(unknown))}")
        hints = typing.get_type_hints(record)
        self.record = record
        self.fields = fields
        self.names = tuple(renamed.get(field, field) for field in fields)
        self._readers = tuple(_reader(hints[field]) for field in fields)

    def read(self, row: Mapping[str, object]) -> R:
        """The record of one row (column name -> value); columns the record lacks are ignored."""
        values = {
            field: row[name] if read is None else read(row[name])
            for field, name, read in zip(self.fields, self.names, self._readers, strict=True)
        }
        return self.record(**values)


class Table(Columns[R]):
    """A table whose rows are records of one type.

    ``scales``: fields stored in Decimal columns with that many decimal places, quantized on insert
    (ClickHouse would cut the extra digits off, not round them).
    """

    def __init__(
        self,
        name: str,
        record: type[R],
        renamed: Mapping[str, str] | None = None,
        scales: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(record, renamed)
        scales = scales or {}
        if unknown := set(scales) - set(self.fields):
            raise ValueError(f"{record.__name__} has no field {', '.join(sorted(unknown))}")
        self.name = name  # without the database: the store qualifies it
        self._quanta = tuple(
            Decimal(1).scaleb(-scales[field]) if field in scales else None for field in self.fields
        )

    def row(self, record: R) -> list[object]:
        """The values of ``record`` as stored, in the order of :attr:`names`."""
        return [
            _quantized(getattr(record, field), quantum)
            for field, quantum in zip(self.fields, self._quanta, strict=True)
        ]

    def by_name(self, record: R) -> dict[str, object]:
        """The values of ``record`` as stored, by column name."""
        return dict(zip(self.names, self.row(record), strict=True))


def _quantized(value: object, quantum: Decimal | None) -> object:
    if quantum is None or not isinstance(value, Decimal):
        return value
    return value.quantize(quantum)


class RecordReader(Protocol):
    def records(
        self, columns: Columns[R], relative_path: str, parameters: Mapping[str, object] | None = None
    ) -> list[R]:
        """The rows of a .sql file of queries/ with ``parameters`` bound, one record each."""
        ...


class RecordWriter(Protocol):
    def insert(self, table: Table[R], records: Sequence[R]) -> None:
        """Store ``records`` in ``table``; raises when the store did not take them."""
        ...


class Records(RecordReader, RecordWriter, Protocol):
    """Reads and writes records (what the budget loop needs of a store)."""
