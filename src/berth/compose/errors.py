"""The one error type of compose: a message the CLI prints as is, and an exit status."""

from __future__ import annotations


class ComposeError(Exception):
    """A user-facing compose failure; `str(exc)` is the whole message."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message
