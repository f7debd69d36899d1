"""PromQL: parse with promql-parser, evaluate vectorised with numpy."""

from tocsin.promql.engine import Engine
from tocsin.promql.labels import LabelTable
from tocsin.promql.memstore import MemStore
from tocsin.promql.values import (
    MatrixResult,
    QueryResult,
    Sample,
    ScalarResult,
    SeriesPoints,
    StringResult,
    VectorResult,
)

__all__ = [
    "Engine",
    "LabelTable",
    "MatrixResult",
    "MemStore",
    "QueryResult",
    "Sample",
    "ScalarResult",
    "SeriesPoints",
    "StringResult",
    "VectorResult",
]
