"""Fuzz the Engine API from its own spec (schemathesis strategies), against a live berthd.

Each operation of ../shared/specs/engine-api/v1.45.yaml gets generated requests
(paths, queries, bodies that follow the schema and some that do not); they go
over the daemon's unix socket. What counts as a failure:
- a response whose message starts with "internal error:" (an exception the
  daemon did not expect: api/app.py turns those into 500 and logs a traceback);
- the daemon no longer answering /_ping (a crash or a hang);
- a request to a non-streaming endpoint taking longer than the timeout.
Used by tests/integration/test_api_fuzz.py (short) and bench/api_fuzz.py (2,000+).
"""

from __future__ import annotations

import collections
import random
import time
from dataclasses import dataclass, field

# Endpoints that stream or block by design (events, attach, wait, logs/stats follow,
# exec start): a timeout there is not a hang. They are still called.
STREAMING = {
    ("GET", "/events"), ("POST", "/containers/{id}/attach"), ("GET", "/containers/{id}/attach/ws"),
    ("POST", "/containers/{id}/wait"), ("GET", "/containers/{id}/logs"), ("GET", "/containers/{id}/stats"),
    ("POST", "/exec/{id}/start"), ("POST", "/session"), ("POST", "/build"), ("POST", "/images/create"),
    ("POST", "/images/{name}/push"), ("GET", "/containers/{id}/export"), ("GET", "/images/get"),
    ("GET", "/images/{name}/get"), ("POST", "/images/load"),
}
# Never sent: they would stop the sandbox daemon's own clients, not test anything.
SKIPPED: set[tuple[str, str]] = set()


@dataclass
class FuzzReport:
    requests: int = 0
    statuses: collections.Counter = field(default_factory=collections.Counter)
    internal_errors: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    daemon_died: bool = False
    seconds: float = 0.0

    @property
    def failures(self) -> list[str]:
        return self.internal_errors + self.hangs + (["daemon stopped answering"] if self.daemon_died else [])


def _register_serializers() -> None:
    """Bodies the Engine API takes that are not JSON: tars (build context, archive
    upload, image load) and raw streams. Random bytes or a tiny valid tar."""
    import io
    import tarfile

    import schemathesis

    def tar_bytes(ctx, value) -> bytes:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            data = str(value).encode()
            info = tarfile.TarInfo("Dockerfile" if "FROM" in str(value) else "fuzz.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    def raw_bytes(ctx, value) -> bytes:
        return value if isinstance(value, (bytes, bytearray)) else str(value).encode()

    schemathesis.serializer("application/x-tar")(tar_bytes)
    schemathesis.serializer("application/octet-stream", "text/plain")(raw_bytes)


def _session(sock_path: str):
    import requests
    from docker.transport import UnixHTTPAdapter

    session = requests.Session()
    session.mount("http+docker://", UnixHTTPAdapter(f"http+unix://{sock_path}", timeout=10))
    return session


def _alive(session) -> bool:
    try:
        return session.get("http+docker://localhost/_ping", timeout=10).status_code == 200
    except Exception:  # noqa: BLE001
        return False


def run(spec_path: str, sock_path: str, total: int, seed: int = 0, timeout: float = 5.0) -> FuzzReport:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings

    _register_serializers()
    schema = schemathesis.openapi.from_path(spec_path)
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if (op.method.upper(), op.path) not in SKIPPED]
    rng = random.Random(seed)
    per_op = max(1, -(-total // len(operations)))
    session = _session(sock_path)
    report = FuzzReport()
    start = time.monotonic()
    rng.shuffle(operations)
    for op in operations:
        key = (op.method.upper(), op.path)
        strategy = op.as_strategy()

        @settings(max_examples=per_op, deadline=None, database=None, derandomize=True,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def send(case):
            report.requests += 1
            kwargs = case.as_transport_kwargs()
            kwargs.pop("base_url", None)
            # The schema was loaded from a file, so URLs come as file:///v1.45/...; keep the path.
            path = kwargs["url"].split("://", 1)[1] if "://" in kwargs["url"] else kwargs["url"]
            path = "/" + path.lstrip("/")
            if not path.startswith("/v1."):
                path = "/v1.45" + path
            kwargs["url"] = "http+docker://localhost" + path
            try:
                resp = session.request(timeout=timeout, stream=True, **kwargs)
            except Exception as exc:  # noqa: BLE001
                name = type(exc).__name__
                if "Timeout" in name:
                    if key not in STREAMING:
                        report.hangs.append(f"{key}: {kwargs.get('url')} timed out")
                else:
                    report.transport_errors.append(f"{key}: {name}: {exc}")
                return
            report.statuses[resp.status_code] += 1
            try:
                body = resp.raw.read(4096, decode_content=False) if key in STREAMING else resp.content
            except Exception:  # noqa: BLE001 - a stream cut by our timeout
                body = b""
            finally:
                resp.close()
            if resp.status_code >= 500 and b"internal error:" in body:
                report.internal_errors.append(f"{key} {kwargs.get('url')} -> {resp.status_code} {body[:300]!r}")

        send()
        if not _alive(session):
            report.daemon_died = True
            break
    report.seconds = time.monotonic() - start
    return report
