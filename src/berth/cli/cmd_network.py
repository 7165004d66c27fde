"""`network create|connect|disconnect|inspect|ls|prune|rm` and `port`, as docker's CLI 28.

Request bodies, output, error texts and exit codes follow docker 28.2's CLI
(captured against a fake daemon): `create` checks its IPAM flags on the client
side the way docker does (subnets as given, overlapping subnets refused,
every gateway/range/aux-address matched to a subnet), `ls` sorts by name in
natural order, `inspect -f` sees docker's network.Inspect Go type first, `rm`
goes on after a failure and ends with "exit status 1".
"""

from __future__ import annotations

from .command import (
    FORMAT_USAGE,
    FORMAT_USAGE_NO_TABLE,
    Cli,
    CliError,
    Command,
    StatusError,
    filter_flag,
    filters_query,
)
from .flags import FlagSet, Values
from .netopts import csv_value, ipam_config, kv_map, label_value, link_value, natural_sorted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# --- create -----------------------------------------------------------------------------------


def _create_flags(fs: FlagSet) -> None:
    fs.bool("attachable", "", "Enable manual container attachment")
    fs.list("aux-address", "", "Auxiliary IPv4 or IPv6 addresses used by Network driver", kind="map",
            help_default="map[]")
    fs.string("config-from", "", "The network from which to copy the configuration")
    fs.bool("config-only", "", "Create a configuration only network")
    fs.string("driver", "d", "Driver to manage the Network", default="bridge")
    fs.list("gateway", "", "IPv4 or IPv6 Gateway for the master subnet", kind="strings", convert=csv_value)
    fs.bool("ingress", "", "Create swarm routing-mesh network")
    fs.bool("internal", "", "Restrict external access to the network")
    fs.list("ip-range", "", "Allocate container ip from a sub-range", kind="strings", convert=csv_value)
    fs.string("ipam-driver", "", "IP Address Management Driver", default="default")
    fs.list("ipam-opt", "", "Set IPAM driver specific options", kind="map", help_default="map[]")
    fs.bool("ipv4", "", "Enable or disable IPv4 address assignment", default=True)
    fs.bool("ipv6", "", "Enable or disable IPv6 address assignment")
    fs.list("label", "", "Set metadata on a network", convert=label_value)
    fs.list("opt", "o", "Set driver specific options", kind="map", help_default="map[]")
    fs.string("scope", "", "Control the network's scope")
    fs.list("subnet", "", "Subnet in CIDR format that represents a network segment", kind="strings", convert=csv_value)


def create_body(v: Values, name: str) -> dict[str, Any]:
    """The NetworkCreateRequest docker's CLI sends, field for field."""
    body: dict[str, Any] = {"Driver": v.driver, "Scope": v.scope}
    if v.was_set("ipv4"):
        body["EnableIPv4"] = v.ipv4
    if v.was_set("ipv6"):
        body["EnableIPv6"] = v.ipv6
    body["IPAM"] = {
        "Driver": v.ipam_driver,
        "Options": kv_map(v.ipam_opt),
        "Config": ipam_config(v.subnet, v.ip_range, v.gateway, v.aux_address),
    }
    body.update({
        "Internal": v.internal,
        "Attachable": v.attachable,
        "Ingress": v.ingress,
        "ConfigOnly": v.config_only,
        "ConfigFrom": {"Network": v.config_from} if v.config_from else None,
        "Options": kv_map(v.opt),
        "Labels": kv_map(v.label),
        "Name": name,
    })
    return body


def _create(cli: Cli, v: Values, args: list[str]) -> int:
    body = create_body(v, args[0])
    resp = cli.client().post("/networks/create", None, body) or {}
    cli.out.write(f"{resp.get('Id', '')}\n")
    return 0


def create_command() -> Command:
    return Command("create", "[OPTIONS] NETWORK", "Create a network", _create, _create_flags, ("exact", 1))


# --- connect / disconnect ----------------------------------------------------------------------


def _connect_flags(fs: FlagSet) -> None:
    fs.list("alias", "", "Add network-scoped alias for the container", kind="strings", convert=csv_value)
    fs.list("driver-opt", "", "driver options for the network", kind="strings", convert=csv_value)
    fs.int("gw-priority", "", "Highest gw-priority provides the default gateway. Accepts positive and "
           "negative values.")
    fs.string("ip", "", 'IPv4 address (e.g., "172.30.100.104")')
    fs.string("ip6", "", 'IPv6 address (e.g., "2001:db8::33")')
    fs.list("link", "", "Add link to another container", convert=link_value)
    fs.list("link-local-ip", "", "Add a link-local address for the container", kind="strings", convert=csv_value)


def connect_body(v: Values, container: str) -> dict[str, Any]:
    driver_opts: dict[str, str] = {}
    for item in v.driver_opt:
        k, sep, val = item.partition("=")
        if not sep:
            raise CliError("invalid key/value pair format in driver options")
        driver_opts[k.strip().lower()] = val.strip()
    ipam: dict[str, Any] = {}
    if v.ip:
        ipam["IPv4Address"] = v.ip
    if v.ip6:
        ipam["IPv6Address"] = v.ip6
    if v.link_local_ip:
        ipam["LinkLocalIPs"] = list(v.link_local_ip)
    return {"Container": container, "EndpointConfig": {
        "IPAMConfig": ipam,
        "Links": list(v.link) or None,
        "Aliases": list(v.alias),
        "MacAddress": "",
        "DriverOpts": dict(sorted(driver_opts.items())),
        "GwPriority": v.gw_priority,
        "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
        "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": None,
    }}


def _connect(cli: Cli, v: Values, args: list[str]) -> int:
    body = connect_body(v, args[1])
    cli.client().post(f"/networks/{args[0]}/connect", None, body)
    return 0


def connect_command() -> Command:
    return Command("connect", "[OPTIONS] NETWORK CONTAINER", "Connect a container to a network",
                   _connect, _connect_flags, ("exact", 2))


def _disconnect_flags(fs: FlagSet) -> None:
    fs.bool("force", "f", "Force the container to disconnect from a network")


def _disconnect(cli: Cli, v: Values, args: list[str]) -> int:
    cli.client().post(f"/networks/{args[0]}/disconnect", None, {"Container": args[1], "Force": v.force})
    return 0


def disconnect_command() -> Command:
    return Command("disconnect", "[OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network",
                   _disconnect, _disconnect_flags, ("exact", 2))


# --- inspect ----------------------------------------------------------------------------------

_NETWORK_TYPES = {
    "network.Inspect": """
        Name string
        ID string json=Id
        Created time
        Scope string
        Driver string
        EnableIPv4 bool
        EnableIPv6 bool
        IPAM network.IPAM
        Internal bool
        Attachable bool
        Ingress bool
        ConfigFrom network.ConfigReference
        ConfigOnly bool
        Containers map[string]network.EndpointResource
        Options map[string]string
        Labels map[string]string
        Peers []network.PeerInfo omitempty
        Services map[string]network.ServiceInfo omitempty
    """,
    "network.IPAM": """
        Driver string
        Options map[string]string
        Config []network.IPAMConfig
    """,
    "network.IPAMConfig": """
        Subnet string omitempty
        IPRange string omitempty
        Gateway string omitempty
        AuxAddress map[string]string json=AuxiliaryAddresses omitempty
    """,
    "network.ConfigReference": """
        Network string
    """,
    "network.EndpointResource": """
        Name string
        EndpointID string
        MacAddress string
        IPv4Address string
        IPv6Address string
    """,
    "network.PeerInfo": """
        Name string
        IP string
    """,
    "network.ServiceInfo": """
        VIP string
        Ports []string
        LocalLBIndex int
        Tasks []network.Task
    """,
    "network.Task": """
        Name string
        EndpointID string
        EndpointIP string
        Info map[string]string
    """,
}

_decode_network: Any = None


def typed_network(doc: Any) -> Any:
    """The network.Inspect Go value docker's template pass sees first."""
    global _decode_network
    if _decode_network is None:
        from .gotypes import Schema, decoder

        _decode_network = decoder(lambda: Schema(_NETWORK_TYPES))
    return _decode_network("network.Inspect", doc)


def _inspect_flags(fs: FlagSet) -> None:
    fs.string("format", "f", FORMAT_USAGE_NO_TABLE)
    fs.bool("verbose", "v", "Verbose output for diagnostics")


def _inspect(cli: Cli, v: Values, args: list[str]) -> int:
    from .cmd_inspect import json_reindent

    fmt = v.format
    inspector = None
    if fmt and fmt != "json":
        from .formatter import TemplateInspector, compile_template

        inspector = TemplateInspector(compile_template(fmt))
    params = {"verbose": "true"} if v.verbose else None
    client = cli.client()
    errors: list[str] = []
    raws: list[str] = []
    out: list[str] = []
    for name in args:
        try:
            raw = client.request("GET", f"/networks/{name}", params).read().decode()
        except CliError as exc:
            errors.append(exc.message or "")
            continue
        if inspector is None:
            raws.append(raw)
            continue
        try:
            out.append(inspector.inspect(raw, typed_network) + "\n")
        except CliError as exc:
            errors.append(exc.message or "")
    if inspector is not None:
        from .formatter import write

        write(cli.out, "".join(out) or "\n")
    elif fmt == "json":
        cli.out.write("[" + ",".join(json_reindent(r, None) for r in raws) + "]\n")
    elif raws:
        cli.out.write(json_reindent("[" + ",".join(raws) + "]") + "\n")
    else:
        cli.out.write("[]\n")
    if errors:
        raise CliError("\n".join(errors))
    return 0


def inspect_command() -> Command:
    return Command("inspect", "[OPTIONS] NETWORK [NETWORK...]",
                   "Display detailed information on one or more networks", _inspect, _inspect_flags, ("min", 1))


# --- ls -----------------------------------------------------------------------------------------

NETWORK_HEADERS = {
    "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
    "IPv4": "IPV4", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
}


def network_row(n: dict[str, Any], trunc: bool) -> Any:
    from .formatter import Row
    from .gotypes import GoTime

    class NetworkRow(Row):
        __gotype__ = "*network.networkContext"

        def Label(self, name: str) -> str:  # noqa: N802 - docker's template method
            return (self._labels or {}).get(name, "")

    nid = n.get("Id") or ""
    labels = n.get("Labels") or {}
    return NetworkRow(
        ID=nid[:12] if trunc else nid,
        Name=n.get("Name") or "",
        Driver=n.get("Driver") or "",
        Scope=n.get("Scope") or "",
        IPv6="true" if n.get("EnableIPv6") else "false",
        IPv4="true" if n.get("EnableIPv4") else "false",
        Internal="true" if n.get("Internal") else "false",
        Labels=",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        CreatedAt=GoTime(n.get("Created") or "").String(),
        _labels=labels,
    )


def _ls_flags(fs: FlagSet) -> None:
    filter_flag(fs, usage='Provide filter values (e.g. "driver=bridge")')
    fs.string("format", "", FORMAT_USAGE)
    fs.bool("no-trunc", "", "Do not truncate the output")
    fs.bool("quiet", "q", "Only display network IDs")


def _ls(cli: Cli, v: Values, args: list[str]) -> int:
    from .formatter import write_rows

    params: dict[str, Any] = {}
    fq = filters_query(v.filter)
    if fq:
        params["filters"] = fq
    networks = cli.client().get("/networks", params or None) or []
    networks = natural_sorted(networks, key=lambda n: n.get("Name") or "")
    rows = [network_row(n, not v.no_trunc) for n in networks]
    fmt = v.format or "table"
    if fmt == "table" and v.quiet:
        fmt = "{{.ID}}"
    elif fmt == "raw":
        fmt = ("network_id: {{.ID}}" if v.quiet else
               "network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n")
    write_rows(cli.out, fmt, rows, NETWORK_HEADERS, ["ID", "Name", "Driver", "Scope"])
    return 0


def ls_command() -> Command:
    return Command("ls", "[OPTIONS]", "List networks", _ls, _ls_flags, ("none",),
                   aliases="network ls, network list")


# --- rm / prune -------------------------------------------------------------------------------


def _rm_flags(fs: FlagSet) -> None:
    fs.bool("force", "f", "Do not error if the network does not exist")


def _rm(cli: Cli, v: Values, args: list[str]) -> int:
    from .command import APIError

    client = cli.client()
    failed = False
    for name in args:
        try:
            client.delete(f"/networks/{name}")
        except APIError as exc:
            if v.force and exc.not_found:
                continue
            cli.err.write(f"{exc.message}\n")
            failed = True
            continue
        cli.out.write(f"{name}\n")
    if failed:
        raise StatusError(1, "exit status 1")
    return 0


def rm_command() -> Command:
    return Command("rm", "NETWORK [NETWORK...]", "Remove one or more networks", _rm, _rm_flags, ("min", 1),
                   aliases="network rm, network remove")


def _prune_flags(fs: FlagSet) -> None:
    filter_flag(fs, "", 'Provide filter values (e.g. "until=<timestamp>")')
    fs.bool("force", "f", "Do not prompt for confirmation")


def _confirm(cli: Cli, message: str) -> bool:
    """docker 28's prompt.Confirm: only "y" or "Y" (surrounding blanks ignored) goes on;
    command.confirm also takes "yes", which docker refuses."""
    cli.out.write(f"{message} [y/N] ")
    cli.out.flush()
    try:
        line = cli.stdin.readline()
    except (OSError, ValueError):
        return False
    if isinstance(line, bytes):
        line = line.decode(errors="replace")
    return line.strip() in ("y", "Y")


def _prune(cli: Cli, v: Values, args: list[str]) -> int:
    warning = ("WARNING! This will remove all custom networks not used by at least one container.\n"
               "Are you sure you want to continue?")
    if not v.force and not _confirm(cli, warning):
        return 0
    fq = filters_query(v.filter)
    report = cli.client().post("/networks/prune", {"filters": fq} if fq else None) or {}
    deleted = report.get("NetworksDeleted") or []
    if deleted:
        cli.out.write("Deleted Networks:\n" + "".join(f"{n}\n" for n in deleted) + "\n")
    return 0


def prune_command() -> Command:
    return Command("prune", "[OPTIONS]", "Remove all unused networks", _prune, _prune_flags, ("none",))


# --- port ---------------------------------------------------------------------------------------


def _join_host_port(host: str, port: str) -> str:
    """net.JoinHostPort: brackets around hosts with a colon."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _port(cli: Cli, v: Values, args: list[str]) -> int:
    info = cli.client().get(f"/containers/{args[0]}/json") or {}
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    out: list[str] = []
    if len(args) > 1 and args[1]:
        wanted = args[1]
        port, _, proto = wanted.partition("/")
        if not (port.isascii() and port.isdigit()):
            raise CliError(f'Error: invalid port ({port}): strconv.ParseUint: parsing "{port}": invalid syntax')
        if int(port) > 65535:
            raise CliError(f'Error: invalid port ({port}): strconv.ParseUint: parsing "{port}": value out of range')
        frontends = ports.get(f"{port}/{proto or 'tcp'}")
        if not frontends:
            raise CliError(f"Error: No public port '{wanted}' published for {args[0]}")
        out = [_join_host_port(f.get("HostIp") or "", f.get("HostPort") or "") for f in frontends]
    else:
        for key, frontends in ports.items():
            for f in frontends or []:
                out.append(f"{key} -> {_join_host_port(f.get('HostIp') or '', f.get('HostPort') or '')}")
    if out:
        cli.out.write("\n".join(natural_sorted(out)) + "\n")
    return 0


def port_command() -> Command:
    return Command("port", "CONTAINER [PRIVATE_PORT[/PROTO]]",
                   "List port mappings or a specific mapping for the container",
                   _port, None, ("range", 1, 2), aliases="container port, port")
