"""Template errors that also say where: line and (0-based byte) column of the offending spot."""

from __future__ import annotations

from ..errors import TemplateError

__all__ = ["TemplateExecError", "TemplateSyntaxError"]


class TemplateSyntaxError(TemplateError):
    """A template that does not parse. The text is Go's (``template: :3: unexpected "}" in operand``)."""

    def __init__(self, message: str, *, name: str = "", line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.line = line
        self.column = column


class TemplateExecError(TemplateError):
    """A template that fails while rendering (``template: :1:3: executing "" at <.X.Y>: ...``)."""

    def __init__(self, message: str, *, name: str = "", line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.line = line
        self.column = column
