"""Errors raised while parsing or executing Go-syntax templates."""

from __future__ import annotations

from tocsin.errors import TocsinError


class TemplateError(TocsinError):
    """A template could not be parsed or executed.

    `template` names the template, `line` (1-based) and `column` (0-based byte
    offset within the line, as Go reports it) locate the problem when known,
    and `message` is the bare reason. `str()` gives Go's error text, e.g.
    ``template: alert:1: unclosed action``.
    """

    def __init__(
        self,
        message: str,
        *,
        template: str = "",
        line: int | None = None,
        column: int | None = None,
        text: str | None = None,
    ) -> None:
        self.message = message
        self.template = template
        self.line = line
        self.column = column
        super().__init__(text if text is not None else message)


class TemplateParseError(TemplateError):
    """The template text is not valid template syntax."""


class TemplateExecError(TemplateError):
    """Executing a parsed template failed (missing function, bad argument, ...)."""
