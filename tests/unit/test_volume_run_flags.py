"""What `berth run` sends for volumes: docker's CLI makes ./relative bind sources absolute."""

from __future__ import annotations

import os

from berth.cli.containeropts import add_create_flags, build_create_spec
from berth.cli.flags import FlagSet


def _host_config(args: list[str]) -> dict:
    fs = FlagSet()
    add_create_flags(fs, run=True)
    v, pos = fs.parse(args)
    return build_create_spec(v, pos[0], pos[1:]).body["HostConfig"]


def test_dot_relative_bind_sources_become_absolute_like_dockers_cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hc = _host_config(["-v", "./data:/d:ro", "-v", "named:/n", "-v", "/abs:/a",
                       "--mount", "type=bind,src=./m,dst=/m", "--mount", "type=volume,src=v,dst=/v", "busybox"])
    assert hc["Binds"] == [f"{tmp_path}/data:/d:ro", "named:/n", "/abs:/a"]
    assert hc["Mounts"][0]["Source"] == os.path.join(str(tmp_path), "m")
    assert hc["Mounts"][1]["Source"] == "v"
