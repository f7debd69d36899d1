"""The one exception tree of tocsin. Catch TocsinError to catch them all."""

from __future__ import annotations


class TocsinError(Exception):
    """Base of every error tocsin raises on purpose."""


class ConfigError(TocsinError):
    """A configuration file is invalid. `problems` lists each one."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ConfigProblem:
    """One problem in a config file: where it is and what was expected."""

    def __init__(self, file: str, line: int | None, field: str, message: str) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.message = message

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"

    def __repr__(self) -> str:
        return f"ConfigProblem({self!s})"


class SourceError(TocsinError):
    """A source could not produce observations.

    `retryable` says whether trying again later may succeed (a timeout, a 5xx)
    or not (a 401, a malformed URL template).
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class QueryError(TocsinError):
    """A PromQL query could not be parsed or evaluated.

    `kind` follows the Prometheus API error types: bad_data, execution,
    timeout, canceled, internal, unavailable.
    """

    def __init__(self, message: str, kind: str = "execution") -> None:
        super().__init__(message)
        self.kind = kind


class UnsupportedFeature(QueryError):
    """A valid PromQL feature that tocsin does not evaluate (yet)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="bad_data")


class DeliveryError(TocsinError):
    """A notification could not be delivered. `retryable` drives the retrier."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable
