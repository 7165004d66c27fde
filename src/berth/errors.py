"""One error vocabulary for the whole daemon.

Every subsystem raises these; the API layer maps them to HTTP status codes in
exactly one place (`http_status`). Messages are worded like docker's, because
clients print them verbatim ("Error response from daemon: <message>").
"""

from __future__ import annotations


class BerthError(Exception):
    """Base of every error a client may see."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(BerthError):
    status = 404


class Conflict(BerthError):
    status = 409


class InvalidParameter(BerthError):
    status = 400


class Unauthorized(BerthError):
    status = 401


class Forbidden(BerthError):
    status = 403


class Unavailable(BerthError):
    status = 503


class NotImplementedFeature(BerthError):
    status = 501


class NotModified(BerthError):
    """Docker answers 304 to starting a started or stopping a stopped container."""

    status = 304


class System(BerthError):
    status = 500


class ContainerNotFound(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"No such container: {ref}")


class ImageNotFound(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"No such image: {ref}")


class ExecNotFound(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"No such exec instance: {ref}")


def http_status(err: BaseException) -> int:
    """The one mapping from error kind to HTTP status."""
    if isinstance(err, BerthError):
        return err.status
    return 500
