"""`version` and `info` (`system info`), laid out like docker's."""

from __future__ import annotations

import sys
import time

from .command import FORMAT_USAGE_NO_TABLE, Cli, CliError, Command
from .flags import FlagSet, Values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _format_flags(fs: FlagSet) -> None:
    fs.string("format", "f", FORMAT_USAGE_NO_TABLE)


def _details_order(component: Any) -> list[str]:
    """docker's getDetailsOrder template function: a component's detail keys, sorted."""
    return sorted(getattr(component, "Details", None) or {})


def _template(text: str, name: str) -> Any:
    """docker's version/info template: "json" means {{json .}}; a bad one exits 64."""
    from .formatter import compile_template

    funcs = None
    if name == "version":
        from berth.gotemplate import GoFunc
        from berth.gotemplate.funcs import ANY

        funcs = {"getDetailsOrder": GoFunc(_details_order, (ANY,), None, "[]string", "getDetailsOrder")}
    return compile_template("{{json .}}" if text == "json" else text, name, funcs=funcs)


def _execute(tmpl: Any, data: Any) -> tuple[str, CliError | None]:
    """The output (what was written before a failure, too) and the error docker returns."""
    from berth.gotemplate import ExecError

    try:
        return tmpl.execute(data), None
    except ExecError as exc:
        return exc.partial, CliError(str(exc))


def _ansic(text: str) -> str:
    """The daemon's RFC 3339 build time as Go's time.ANSIC, as docker shows it
    (the wall-clock time as written, in its own zone)."""
    # Parsed by hand: datetime (via berth.timefmt) costs more to import than `version` takes.
    try:
        date, _, clock = text.partition("T")
        offset = 0
        zone = ""
        if clock.endswith(("Z", "z")):
            clock = clock[:-1]
        elif len(clock) > 6 and clock[-6] in "+-":
            clock, zone = clock[:-6], clock[-6:]
            offset = (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60) * (1 if zone[0] == "+" else -1)
        if text.startswith("0001-01-01"):
            return time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(offset))
        year, month, day = (int(p) for p in date.split("-"))
        hh, mm, ss = (int(p) for p in clock.partition(".")[0].split(":"))
        if not (1 <= month <= 12 and 1 <= day <= 31 and hh < 24 and mm < 60 and ss < 61):
            return text
        secs = _days_from_civil(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss
    except ValueError:
        return text
    return time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(secs))


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _arch() -> str:
    import posix  # `platform` costs milliseconds to import; uname is all it would do here

    machine = posix.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def client_version(cli: Cli, negotiated: str | None) -> dict[str, Any]:
    from berth import API_VERSION, __version__

    return {
        "Version": __version__,
        "ApiVersion": negotiated or API_VERSION,
        "DefaultAPIVersion": API_VERSION,
        "GitCommit": "unknown",
        "GoVersion": f"python{sys.version.split()[0]}",
        "Os": sys.platform if sys.platform != "linux" else "linux",
        "Arch": _arch(),
        "BuildTime": "",
        "Context": "default",
    }


def _version(cli: Cli, v: Values, args: list[str]) -> int:
    tmpl = _template(v.format, "version") if v.format else None
    client = cli.client()
    server: dict[str, Any] | None = None
    error: CliError | None = None
    try:
        client.negotiate()
        server = client.get("/version")
    except CliError as exc:
        error = exc
    info = {"Client": client_version(cli, client.version), "Server": server}
    if tmpl is None:
        cli.out.write(_render_version(info))
    else:
        from . import apitypes
        from .formatter import write
        from berth.gotemplate.tabwriter import tabwrite

        if server:
            for comp in server.get("Components") or []:
                details = comp.get("Details")
                if comp.get("Name") == "Engine" and isinstance(details, dict) and "BuildTime" in details:
                    details["BuildTime"] = _ansic(details["BuildTime"])
        text, exec_error = _execute(tmpl, apitypes.decode(apitypes.VERSION, info))
        write(cli.out, tabwrite(text + "\n", 20, 1, 1, " ", 0))
        error = error or exec_error
    if error is not None:
        raise error
    return 0


def _render_version(info: dict[str, Any]) -> str:
    c = info["Client"]
    api = c["ApiVersion"]
    if api != c["DefaultAPIVersion"]:
        api += f" (downgraded from {c['DefaultAPIVersion']})"
    lines = [
        "Client:",
        f" Version:           {c['Version']}",
        f" API version:       {api}",
        f" Go version:        {c['GoVersion']}",
        f" Git commit:        {c['GitCommit']}",
        f" Built:             {c['BuildTime']}",
        f" OS/Arch:           {c['Os']}/{c['Arch']}",
        f" Context:           {c['Context']}",
    ]
    s = info.get("Server")
    if s:
        name = ((s.get("Platform") or {}).get("Name")) or ""
        lines.append("")
        lines.append("Server:" + (f" {name}" if name else ""))
        for comp in s.get("Components") or []:
            lines.append(f" {comp.get('Name', '')}:")
            details = comp.get("Details") or {}
            if comp.get("Name") == "Engine":
                lines.extend([
                    f"  Version:          {comp.get('Version', '')}",
                    f"  API version:      {details.get('ApiVersion', '')} (minimum version {details.get('MinAPIVersion', '')})",
                    f"  Go version:       {details.get('GoVersion', '')}",
                    f"  Git commit:       {details.get('GitCommit', '')}",
                    f"  Built:            {_ansic(details.get('BuildTime', ''))}",
                    f"  OS/Arch:          {details.get('Os', '')}/{details.get('Arch', '')}",
                    f"  Experimental:     {details.get('Experimental', '')}",
                ])
            else:
                lines.append(f"  Version:          {comp.get('Version', '')}")
                for key in sorted(details):
                    lines.append(f"  {key}:".ljust(20) + f"{details[key]}")
    return "\n".join(lines) + "\n"


def version_command() -> Command:
    return Command("version", "[OPTIONS]", "Show the Berth version information", _version, _format_flags, ("none",))


# --- info -------------------------------------------------------------------------------------


def _client_info(cli: Cli) -> dict[str, Any]:
    """docker's clientInfo: the client's version fields (no API version), no plugins."""
    version = client_version(cli, None)
    version.pop("ApiVersion", None)
    return {"Debug": cli.debug, **version, "Plugins": [], "Warnings": None}


def _info(cli: Cli, v: Values, args: list[str]) -> int:
    tmpl = _template(v.format, "") if v.format else None
    client = cli.client()
    error: CliError | None = None
    info: dict[str, Any] | None = None
    try:
        info = client.get("/info")
    except CliError as exc:
        error = exc
    if tmpl is not None:
        from . import apitypes
        from .formatter import write

        if error is not None:  # docker reports it and formats what it has
            cli.err.write((error.message or "").rstrip("\n") + "\n")
        data = {**(info or {}), "ClientInfo": _client_info(cli)}
        text, exec_error = _execute(tmpl, apitypes.decode(apitypes.INFO, data))
        write(cli.out, text + "\n")
        if exec_error is not None:
            raise exec_error
        return 0
    from berth import __version__

    out = ["Client:", f" Version:    {__version__}", " Context:    default",
           f" Debug Mode: {'true' if cli.debug else 'false'}", "", "Server:"]
    if error is not None:
        cli.out.write("\n".join(out) + "\n")
        raise error
    out.extend(_server_lines(info or {}))
    cli.out.write("\n".join(out) + "\n\n")
    for w in (info or {}).get("Warnings") or []:
        cli.err.write(w + "\n")
    return 0


def _b(value: Any) -> str:
    return "true" if value else "false"


def _server_lines(i: dict[str, Any]) -> list[str]:
    from .units import bytes_size

    out = [
        f" Containers: {i.get('Containers', 0)}",
        f"  Running: {i.get('ContainersRunning', 0)}",
        f"  Paused: {i.get('ContainersPaused', 0)}",
        f"  Stopped: {i.get('ContainersStopped', 0)}",
        f" Images: {i.get('Images', 0)}",
        f" Server Version: {i.get('ServerVersion', '')}",
        f" Storage Driver: {i.get('Driver', '')}",
    ]
    for pair in i.get("DriverStatus") or []:
        if len(pair) == 2:
            out.append(f"  {pair[0]}: {pair[1]}")
    out.append(f" Logging Driver: {i.get('LoggingDriver', '')}")
    out.append(f" Cgroup Driver: {i.get('CgroupDriver', '')}")
    out.append(f" Cgroup Version: {i.get('CgroupVersion', '')}")
    plugins = i.get("Plugins") or {}
    out.append(" Plugins:")
    for kind in ("Volume", "Network", "Authorization", "Log"):
        if plugins.get(kind):
            out.append(f"  {kind}: {' '.join(plugins[kind])}")
    swarm = (i.get("Swarm") or {}).get("LocalNodeState") or "inactive"
    out.append(f" Swarm: {swarm}")
    runtimes = i.get("Runtimes") or {}
    if runtimes:
        out.append(f" Runtimes: {' '.join(sorted(runtimes))}")
        out.append(f" Default Runtime: {i.get('DefaultRuntime', '')}")
    out.append(f" Init Binary: {i.get('InitBinary', '')}")
    out.append(f" containerd version: {(i.get('ContainerdCommit') or {}).get('ID', '')}")
    out.append(f" runc version: {(i.get('RuncCommit') or {}).get('ID', '')}")
    out.append(f" init version: {(i.get('InitCommit') or {}).get('ID', '')}")
    sec = i.get("SecurityOptions") or []
    if sec:
        out.append(" Security Options:")
        for opt in sec:
            fields = dict(kv.split("=", 1) for kv in opt.split(",") if "=" in kv)
            out.append(f"  {fields.get('name', opt)}")
            for key, val in fields.items():
                if key != "name":
                    out.append(f"   {key.capitalize()}: {val}")
    out.extend([
        f" Kernel Version: {i.get('KernelVersion', '')}",
        f" Operating System: {i.get('OperatingSystem', '')}",
        f" OSType: {i.get('OSType', '')}",
        f" Architecture: {i.get('Architecture', '')}",
        f" CPUs: {i.get('NCPU', 0)}",
        f" Total Memory: {bytes_size(i.get('MemTotal') or 0)}",
        f" Name: {i.get('Name', '')}",
        f" ID: {i.get('ID', '')}",
        f" Docker Root Dir: {i.get('DockerRootDir', '')}",
        f" Debug Mode: {_b(i.get('Debug'))}",
        f" Experimental: {_b(i.get('ExperimentalBuild'))}",
    ])
    labels = i.get("Labels") or []
    if labels:
        out.append(" Labels:")
        out.extend(f"  {label}" for label in labels)
    insecure = ((i.get("RegistryConfig") or {}).get("InsecureRegistryCIDRs")) or []
    if insecure:
        out.append(" Insecure Registries:")
        out.extend(f"  {r}" for r in insecure)
    out.append(f" Live Restore Enabled: {_b(i.get('LiveRestoreEnabled'))}")
    return out


def info_command() -> Command:
    return Command("info", "[OPTIONS]", "Display system-wide information", _info, _format_flags, ("none",),
                   aliases="system info, info")
