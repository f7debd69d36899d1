"""Scalars exactly as written, for fields Prometheus reads as strings.

Go's YAML decoder fills a string field with the scalar's text: `value: 1.0`
is "1.0", `values: 0x10` is "0x10". PyYAML resolves them to numbers first
(1.0 -> "1.0" would survive, 1e3 -> "1000.0" would not), so string fields
are read from a second, untyped parse of the same text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml


class RawScalars:
    """The document parsed with every scalar kept as its source text."""

    def __init__(self, text: str) -> None:
        try:
            self.data: Any = yaml.load(text, Loader=yaml.BaseLoader)
        except yaml.YAMLError:
            self.data = None

    def get(self, path: Sequence[str | int]) -> str | None:
        """The source text of the scalar at `path`, or None if it is not a scalar."""
        node = self.data
        for part in path:
            if isinstance(node, dict) and isinstance(part, str) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                return None
        return node if isinstance(node, str) else None
