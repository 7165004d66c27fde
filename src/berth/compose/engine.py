"""The Engine API as compose uses it: a thin, counted, thread-safe wrapper over the CLI's
HTTP client (one connection per worker thread, so independent services go in parallel)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any, Iterator

from ..cli.client import APIClient
from ..cli.command import APIError
from .errors import ComposeError

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"
ONEOFF = "com.docker.compose.oneoff"
CONFIG_HASH = "com.docker.compose.config-hash"
WORKING_DIR = "com.docker.compose.project.working_dir"
CONFIG_FILES = "com.docker.compose.project.config_files"
ENV_FILE = "com.docker.compose.project.environment_file"
DEPENDS_ON = "com.docker.compose.depends_on"
IMAGE = "com.docker.compose.image"
VERSION = "com.docker.compose.version"
NETWORK = "com.docker.compose.network"
VOLUME = "com.docker.compose.volume"
REPLACE = "com.docker.compose.replace"
BERTH_CONFIG = "io.berth.compose.config"  # the hashed config itself, to explain a recreate

COMPOSE_VERSION = "2.29.7"


class Engine:
    def __init__(self, host: str, tls: dict | None = None) -> None:
        self.host = host
        self.tls = tls
        self._local = threading.local()
        self._clients: list[APIClient] = []
        self._lock = threading.Lock()
        self.calls: Counter = Counter()
        self._version: str | None = None

    def client(self) -> APIClient:
        c = getattr(self._local, "client", None)
        if c is None:
            with self._lock:
                version = self._version
            c = APIClient(self.host, tls=self.tls, version=version)
            if version is None:
                c.negotiate()  # once per run: the other threads' clients reuse the answer
                with self._lock:
                    self._version = self._version or c.version
                    self.calls["HEAD _ping"] += 1
                    self.calls["total"] += 1
            self._local.client = c
            with self._lock:
                self._clients.append(c)
        return c

    def close(self) -> None:
        with self._lock:
            for c in self._clients:
                c.close()
            self._clients.clear()

    def _count(self, method: str, path: str) -> None:
        parts = [p for p in path.split("/") if p]
        kind = parts[0] if parts else ""
        verb = parts[-1] if len(parts) > 2 or (len(parts) == 2 and method != "GET" and parts[1] in ("create",)) else ""
        with self._lock:
            self.calls[f"{method} {kind} {verb}".strip()] += 1
            self.calls["total"] += 1

    def call(self, method: str, path: str, params: dict | None = None, body: Any = None) -> Any:
        self._count(method, path)
        return self.client().call(method, path, params, body)

    def stream(self, method: str, path: str, params: dict | None = None, body: Any = None,
               raw_body: Any = None, headers: list | None = None) -> Any:
        self._count(method, path)
        return self.client().request(method, path, params, body, body=raw_body, headers=headers, fresh=True)

    # --- containers -----------------------------------------------------------------
    def containers(self, project: str, all: bool = True, extra: list[str] | None = None) -> list[dict]:
        labels = [f"{PROJECT}={project}"] + (extra or [])
        filters = json.dumps({"label": labels})
        return self.call("GET", "/containers/json", {"all": "1" if all else "0", "filters": filters}) or []

    def inspect(self, cid: str) -> dict:
        return self.call("GET", f"/containers/{cid}/json")

    def create(self, name: str, body: dict, platform: str = "") -> str:
        params = {"name": name}
        if platform:
            params["platform"] = platform
        return self.call("POST", "/containers/create", params, body)["Id"]

    def start(self, cid: str) -> None:
        self.call("POST", f"/containers/{cid}/start")

    def stop(self, cid: str, timeout: int | None = None) -> None:
        params = {"t": str(timeout)} if timeout is not None else None
        self.call("POST", f"/containers/{cid}/stop", params)

    def kill(self, cid: str, signal: str = "") -> None:
        self.call("POST", f"/containers/{cid}/kill", {"signal": signal} if signal else None)

    def remove(self, cid: str, volumes: bool = False, force: bool = False) -> None:
        params = {}
        if volumes:
            params["v"] = "1"
        if force:
            params["force"] = "1"
        self.call("DELETE", f"/containers/{cid}", params or None)

    def rename(self, cid: str, name: str) -> None:
        self.call("POST", f"/containers/{cid}/rename", {"name": name})

    def wait(self, cid: str, condition: str = "not-running") -> dict:
        return self.call("POST", f"/containers/{cid}/wait", {"condition": condition})

    # --- networks, volumes, images ----------------------------------------------------
    def networks(self, filters: dict) -> list[dict]:
        return self.call("GET", "/networks", {"filters": json.dumps(filters)}) or []

    def volumes(self, filters: dict) -> list[dict]:
        return (self.call("GET", "/volumes", {"filters": json.dumps(filters)}) or {}).get("Volumes") or []

    def image(self, ref: str) -> dict | None:
        try:
            return self.call("GET", f"/images/{ref}/json")
        except APIError as exc:
            if exc.not_found:
                return None
            raise


def api_error(exc: APIError) -> ComposeError:
    return ComposeError(f"Error response from daemon: {exc.detail}")


def iter_json_lines(resp: Any) -> Iterator[dict]:
    yield from resp.iter_json()
