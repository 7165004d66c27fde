"""docker's command.PruneFilters: filters from config.json's "pruneFilters" added to a prune's own.

docker's rule, kept as measured against docker 28: a configured `label=V` is skipped when the
filters so far (the command line's plus those already added) have no `label!` or include
`label!=V`; a configured `label!=V` likewise against `label`; anything else is added. docker
merges into the command's own filter set, so `system prune` merges again for its prompt and for
each pruner and later pruners can see more labels: callers repeat `prune_filters` where docker
does. A config file that cannot be read gives docker's warning on stderr (once) and no extra
filters, as docker goes on with an empty config.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .command import Cli


def _configured(cli: Cli) -> list[str]:
    cached = getattr(cli, "_prune_filters_config", None)
    if cached is None:
        cached = _read(cli)
        try:
            cli._prune_filters_config = cached  # type: ignore[attr-defined]
        except AttributeError:
            pass
    return cached


def _read(cli: Cli) -> list[str]:
    import os

    from . import fastjson as json

    path = os.path.join(getattr(cli, "config_dir", "") or _default_dir(), "config.json")
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
        values = data.get("pruneFilters") if isinstance(data, dict) else None
        if values is None:
            return []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError("pruneFilters must be a list of strings")
        return values
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        cli.err.write(f"WARNING: Error parsing config file ({path}): {exc}\n")
        return []


def _default_dir() -> str:
    from .context import default_config_dir

    return default_config_dir()


def _exact(given: list[str], key: str, value: str) -> bool:
    """filters.Args.ExactMatch: true when the key has no values at all, or has this one."""
    values = [v.partition("=")[2].strip() for v in given if v.partition("=")[0].strip().lower() == key]
    return not values or value in values


def prune_filters(cli: Cli, given: list[str]) -> list[str]:
    """The command line's filters ("key=value" strings) plus the configured ones."""
    merged = list(given)
    for entry in _configured(cli):
        key, sep, value = entry.partition("=")
        if not sep:
            continue
        if key == "label" and _exact(merged, "label!", value):
            continue
        if key == "label!" and _exact(merged, "label", value):
            continue
        if entry not in merged:
            merged.append(f"{key}={value}")
    return merged
