"""--cache-from matching by history (build/cachefrom.py), docker's ImageCache rules."""

from __future__ import annotations

from berth.build.cachefrom import HistorySources, _valid_parent
from berth.images.store import Image


def _img(i: str, hist: list[dict], diffs: list[str], parent: str = "") -> Image:
    return Image(i, {"history": hist, "rootfs": {"type": "layers", "diff_ids": diffs},
                     "architecture": "amd64", "os": "linux"}, 0, [], parent)


BASE = [{"created": "t0", "created_by": "ADD"}]
STEPS = BASE + [{"created": "t1", "created_by": "ENV", "empty_layer": True},
                {"created": "t2", "created_by": "RUN"}, {"created": "t3", "created_by": "CMD", "empty_layer": True}]


class FakeStore:
    def __init__(self) -> None:
        self.added: list[tuple[dict, str]] = []
        self.parents: dict[str, str] = {}

    def add_image(self, doc: dict, ref, parent: str) -> Image:
        self.added.append((doc, parent))
        return _img(f"sha256:r{len(self.added)}", doc["history"], doc["rootfs"]["diff_ids"], parent)

    def set_parent(self, image_id: str, parent: str) -> None:
        self.parents[image_id] = parent


def test_valid_parent_is_a_strict_history_and_layer_prefix():
    assert _valid_parent([], [], STEPS, ["a", "b"])
    assert _valid_parent(BASE, ["a"], STEPS, ["a", "b"])
    assert not _valid_parent(STEPS, ["a", "b"], STEPS, ["a", "b"])  # not strict
    assert not _valid_parent([{"created": "other", "created_by": "ADD"}], ["a"], STEPS, ["a", "b"])
    assert not _valid_parent(BASE, ["x"], STEPS, ["a", "b"])
    assert not _valid_parent([], [], [], [])


def test_steps_are_restored_then_the_last_is_the_source_itself():
    store = FakeStore()
    source = _img("sha256:src", STEPS, ["a", "b"])
    hs = HistorySources(store, [_img("sha256:other", BASE + [{"created_by": "X"}], ["a"]), source])
    base = _img("sha256:base", BASE, ["a"])
    assert hs.match(base, "RUN", {}) is None  # the next entry is ENV
    env = hs.match(base, "ENV", {"Env": ["A=b"]})
    doc, parent = store.added[-1]
    assert env == "sha256:r1" and parent == "sha256:base" and hs.sources == [source]
    assert doc["rootfs"]["diff_ids"] == ["a"] and doc["history"] == STEPS[:2]  # empty layer: none added
    assert doc["config"]["Env"] == ["A=b"] and doc["config"]["Image"] == "sha256:base"
    run = hs.match(_img(env, doc["history"], ["a"]), "RUN", {})
    doc, _ = store.added[-1]
    assert doc["rootfs"]["diff_ids"] == ["a", "b"] and doc["created"] == "t2"  # the entry's layer
    last = hs.match(_img(run, doc["history"], ["a", "b"]), "CMD", {})
    assert last == "sha256:src" and store.parents == {"sha256:src": run}
