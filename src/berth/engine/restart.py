"""Restart policies, docker's way: no, on-failure[:N], always, unless-stopped.

Back-off starts at 100 ms and doubles with each restart; a container that
ran for 10 s or more starts again from 100 ms.
"""

from __future__ import annotations

FIRST_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0


def should_restart(policy: dict, exit_code: int, restart_count: int, manually_stopped: bool) -> bool:
    name = (policy or {}).get("Name") or "no"
    if manually_stopped or name == "no":
        return False
    if name == "on-failure":
        limit = int((policy or {}).get("MaximumRetryCount") or 0)
        return exit_code != 0 and (limit == 0 or restart_count < limit)
    return name in ("always", "unless-stopped")


def restart_at_daemon_start(policy: dict, manually_stopped: bool) -> bool:
    """always restarts even after a manual stop; unless-stopped does not."""
    name = (policy or {}).get("Name") or "no"
    return name == "always" or (name == "unless-stopped" and not manually_stopped)


def next_delay(previous: float, ran_for: float) -> float:
    if ran_for >= RESET_AFTER or previous <= 0:
        return FIRST_DELAY
    return min(previous * 2, MAX_DELAY)
