"""`--cache-from` images that have no local parent chain (pulled, loaded):
docker's legacy builder matches them by history, not by parent links.

A source image can serve a step when the step's parent image's history and
layers are a prefix of the source's, and the source's next history entry was
made by the same instruction (`created_by` equal to the step's). If that entry
is the source's last, the source itself is the step's image (and gets the
parent as its Parent, as docker sets it); otherwise an image is made from the
parent plus that history entry and its layer (which the source already has on
disk), so the next step can match again. Once a source matched, later steps
only look at that source, as docker does (no jumping between sources).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from berth.build import imageconfig as ic
from berth.images.store import Image, ImageStore


@dataclass
class HistorySources:
    store: ImageStore
    sources: list[Image] = field(default_factory=list)

    def match(self, parent: Image | None, created_by: str, config_after: dict) -> str | None:
        """The image id to use for this step, or None (then the step runs)."""
        p_hist = (parent.config.get("history") or []) if parent else []
        p_diffs = ((parent.config.get("rootfs") or {}).get("diff_ids") or []) if parent else []
        for target in self.sources:
            t_hist = target.config.get("history") or []
            t_diffs = (target.config.get("rootfs") or {}).get("diff_ids") or []
            if not _valid_parent(p_hist, p_diffs, t_hist, t_diffs):
                continue
            n = len(p_hist)
            if t_hist[n].get("created_by", "") != created_by:
                continue
            if n == len(t_hist) - 1:
                if parent is not None and target.parent != parent.id:
                    self.store.set_parent(target.id, parent.id)
                return target.id
            self.sources = [target]
            return self._restore(parent, target, n, config_after).id
        return None

    def _restore(self, parent: Image | None, target: Image, n: int, config_after: dict) -> Image:
        """The image docker's restoreCachedImage makes: the parent's history and
        layers, plus the source's entry n and the layer that entry added."""
        t_cfg = target.config
        entry = copy.deepcopy(t_cfg["history"][n])
        diff_ids = list(((parent.config.get("rootfs") or {}).get("diff_ids") or []) if parent else [])
        if not entry.get("empty_layer"):
            layer_index = sum(1 for h in t_cfg["history"][:n] if not h.get("empty_layer"))
            diff_ids.append(t_cfg["rootfs"]["diff_ids"][layer_index])
        cfg = ic.normalize_config(copy.deepcopy(config_after))
        cfg["Image"] = parent.id if parent else ""
        doc: dict = {"architecture": t_cfg.get("architecture") or ""}
        if t_cfg.get("author"):
            doc["author"] = t_cfg["author"]
        doc.update({
            "config": cfg,
            "created": entry.get("created", ""),
            "history": [*copy.deepcopy((parent.config.get("history") or []) if parent else []), entry],
            "os": t_cfg.get("os") or "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        })
        for key in ("variant", "os.version", "os.features"):
            if t_cfg.get(key):
                doc[key] = t_cfg[key]
        return self.store.add_image(doc, None, parent.id if parent else "")


def _valid_parent(p_hist: list, p_diffs: list, t_hist: list, t_diffs: list) -> bool:
    """docker's isValidParent: the parent is a strict history prefix of the source."""
    if not t_hist:
        return False
    if not p_hist and not p_diffs:
        return True
    if len(p_hist) >= len(t_hist) or len(p_diffs) > len(t_diffs):
        return False
    return t_hist[:len(p_hist)] == p_hist and t_diffs[:len(p_diffs)] == p_diffs
