"""Error types.

Go keeps parse errors and execution errors apart (`template.Parse` returns a plain
error, `Execute` an `ExecError`), and docker prints both verbatim, so the message of
each exception is exactly Go's text and nothing else.
"""

from __future__ import annotations


class Error(Exception):
    """Base of every error this package raises, so callers can catch one type."""


class TemplateError(Error):
    """The template text does not parse; `str(err)` is Go's message."""


class ExecError(Error):
    """Execution failed; `str(err)` is Go's message.

    `partial` holds the output written before the failure: Go's writer has already
    received it, though docker discards it.
    """

    def __init__(self, message: str, partial: str = "") -> None:
        super().__init__(message)
        self.partial = partial
