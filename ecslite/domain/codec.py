"""The JSON form of the frozen records that cross the database: job params and boot configs.

One codec, pydantic's ``TypeAdapter`` over the plain dataclasses: a record's shape is its field
list, and where the stored form differs from it (a key's name, a key left out, a derived key)
the field says so with a pydantic annotation. The stored form is a compatibility contract: a
job accepted before an upgrade resumes after it, so rows written by older code must decode and
new rows must keep the same keys (tests/unit/test_codec.py holds today's documents).

Pure: pydantic only, no I/O; the store, the jobs and the services share it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import TypeAdapter

T = TypeVar("T")

# Built on first use of each type (building one costs about a millisecond), then reused.
_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(cls: type[T]) -> TypeAdapter[T]:
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        adapter = _ADAPTERS[cls] = TypeAdapter(cls)
    return adapter


def encode(value: object) -> dict[str, Any]:
    """Return the JSON object (plain dicts, lists, strings, numbers) stored for ``value``."""
    data = _adapter(type(value)).dump_python(value, mode="json", by_alias=True)
    assert isinstance(data, dict)
    return data


def decode(cls: type[T], data: Mapping[str, Any]) -> T:
    """Return the ``cls`` record stored as ``data``; pydantic's ValidationError if it is not one.

    Keys the record does not know are ignored (an older or newer writer may have added some).
    """
    return _adapter(cls).validate_python(data)


def decoder(cls: type[T]) -> Callable[[Mapping[str, Any]], T]:
    """Return ``decode`` bound to ``cls`` (a job definition's ``parse_params``)."""

    def parse(data: Mapping[str, Any]) -> T:
        return decode(cls, data)

    return parse
