"""`berth system check [--repair] [--format json]` (Berth only, beyond docker).

Asks the daemon to compare its metadata with the host (engine/check.py) and
prints each finding with what was, or would be, repaired. Exit status 1 while
inconsistencies remain (after repair, only those that could not be repaired).
"""

from __future__ import annotations

import json

from .command import Cli, CliError, Command
from .flags import FlagSet, Values


def _flags(fs: FlagSet) -> None:
    fs.bool("repair", "", "Repair what is found (leftovers are removed; acknowledged objects never are)")
    fs.string("format", "f", 'Format the output: "json" for the daemon\'s report', default="")


def _run(cli: Cli, v: Values, args: list[str]) -> int:
    if v.format not in ("", "json"):
        raise CliError(f'invalid format "{v.format}": only "json" is supported')
    client = cli.client()
    target = "/berth/system/check" + ("?repair=1" if v.repair else "")
    resp = client._raw("POST", target, b"", [("Content-Type", "application/json")])
    if resp.status >= 400:
        raise client.error_from(resp)
    report = json.loads(resp.read() or b"{}")
    if v.format == "json":
        cli.out.write(json.dumps(report, indent=2) + "\n")
    else:
        cli.out.write(render(report, bool(v.repair)))
    return 1 if report.get("Remaining") else 0


def render(report: dict, repair: bool) -> str:
    """The human report: one line per finding, then a summary line."""
    lines = []
    for f in report.get("Findings") or []:
        if f["Repaired"]:
            todo = f"repaired: {f['Repair']}"
        elif f["Error"]:
            todo = f"repair failed: {f['Error']}"
        elif f["Repair"]:
            todo = f"would {f['Repair']} (run with --repair)" if not repair else f"not repaired: {f['Repair']}"
        else:
            todo = "reported only: needs a person"
        lines.append(f"{f['Kind']:<9} {f['Subject']}: {f['Problem']} -- {todo}")
    checked = ", ".join(f"{n} {k}" for k, n in sorted((report.get("Checked") or {}).items()))
    startup = report.get("StartupRepairs") or []
    if startup:
        lines.append(f"at daemon start: {len(startup)} leftover(s) found "
                     f"({sum(1 for s in startup if s.get('Repaired'))} repaired); see the daemon's log")
    if not report.get("Findings"):
        lines.append(f"no inconsistencies (checked {checked})")
    else:
        lines.append(f"{len(report['Findings'])} inconsistencies, {report.get('Repaired', 0)} repaired, "
                     f"{report.get('Remaining', 0)} remaining (checked {checked})")
    return "\n".join(lines) + "\n"


def check_command() -> Command:
    return Command("check", "[OPTIONS]",
                   "Check the daemon's state against the host and repair leftovers (Berth only)",
                   _run, _flags, ("none",))
