"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

#: A 64-bit auto-incrementing key (SQLite only auto-increments INTEGER keys).
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class JSONText(TypeDecorator[Any]):
    """JSON stored as text, (de)serialised with orjson.

    Text rather than JSONB keeps one code path and makes bulk writes cheap;
    nothing queries inside these documents.
    """

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return orjson.loads(value)
