"""Where the shared conformance data lives: beside the checkout (../shared/specs),
else at the workplace's fixed path."""

from __future__ import annotations

from pathlib import Path

_BESIDE = Path(__file__).resolve().parents[2] / "shared" / "specs"
SPECS_DIR = _BESIDE if _BESIDE.exists() else Path("/work/shared/specs")
