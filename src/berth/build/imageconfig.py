"""The image documents a build writes, shaped like docker's legacy builder's.

Every step commits an image: its config is the stage's run config, its
history gains one entry whose `created_by` reads as docker records it
(`/bin/sh -c #(nop)  CMD ["sh"]` for metadata, `/bin/sh -c echo hi` or
`|2 A=1 B=2 /bin/sh -c ...` for RUN, `/bin/sh -c #(nop) COPY file:... in /x `
for COPY/ADD), with `empty_layer: true` when the step added no layer.
"""

from __future__ import annotations

import copy
import json

from berth.images.store import go_arch
from berth.timefmt import rfc3339nano

# The container config fields docker writes into an image's "config", in its order.
CONFIG_KEYS = ("Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr",
               "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck",
               "ArgsEscaped", "Image", "Volumes", "WorkingDir", "Entrypoint", "NetworkDisabled",
               "MacAddress", "OnBuild", "Labels", "StopSignal", "StopTimeout", "Shell")
_OMIT_EMPTY = {"ExposedPorts", "Healthcheck", "ArgsEscaped", "NetworkDisabled", "MacAddress",
               "StopSignal", "StopTimeout", "Shell"}


def normalize_config(cfg: dict | None) -> dict:
    """docker's container.Config as JSON: fixed fields always present, omitempty ones only when set."""
    src = cfg or {}
    out: dict = {}
    defaults = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
                "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None,
                "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None,
                "OnBuild": None, "Labels": None}
    for key in CONFIG_KEYS:
        if key in _OMIT_EMPTY:
            if src.get(key):
                out[key] = copy.deepcopy(src[key])
            continue
        out[key] = copy.deepcopy(src.get(key, defaults[key]))
    return out


def scratch_doc(platform_os: str = "linux", arch: str = "") -> dict:
    return {"architecture": arch or go_arch(), "config": normalize_config({}), "created": "",
            "history": [], "os": platform_os, "rootfs": {"type": "layers", "diff_ids": []}}


def go_quote(s: str) -> str:
    """Go's %q for a string (strconv.Quote): JSON-like, with Go's escapes."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\v":
            out.append("\\v")
        elif o < 0x20 or o == 0x7f:
            out.append(f"\\x{o:02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_quote_list(items: list[str] | None) -> str:
    """Go's %q of a []string: `["a" "b"]`."""
    return "[" + " ".join(go_quote(i) for i in (items or [])) + "]"


def go_list(items: list[str] | None) -> str:
    """Go's %v of a []string: `[a b]`."""
    return "[" + " ".join(items or []) + "]"


def go_duration(ns: int) -> str:
    """time.Duration.String() for the values a HEALTHCHECK takes."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    ns = abs(ns)
    if ns < 1000:
        text = f"{ns}ns"
    elif ns < 1_000_000:
        text = _trim(ns / 1000) + "µs"
    elif ns < 1_000_000_000:
        text = _trim(ns / 1_000_000) + "ms"
    else:
        secs = ns / 1_000_000_000
        h = int(secs // 3600)
        mi = int((secs - h * 3600) // 60)
        s = secs - h * 3600 - mi * 60
        text = (f"{h}h" if h else "") + (f"{mi}m" if h or mi else "") + _trim(s) + "s"
    return ("-" if neg else "") + text


def _trim(v: float) -> str:
    text = f"{v:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def healthcheck_comment(h: dict) -> str:
    """`HEALTHCHECK %q` of docker's *HealthConfig: &{["CMD-SHELL" "x"] "5s" "3s" "0s" "0s" '\\x03'}."""
    retries = int(h.get("Retries") or 0)
    r = f"'\\x{retries:02x}'" if retries < 0x20 or retries == 0x7f else ("'" + chr(retries) + "'")
    parts = [go_quote_list(h.get("Test")), *(go_quote(go_duration(int(h.get(k) or 0)))
                                              for k in ("Interval", "Timeout", "StartPeriod", "StartInterval")), r]
    return "HEALTHCHECK &{" + " ".join(parts) + "}"


def nop_created_by(shell: list[str], comment: str) -> str:
    """A metadata step's history: the shell, `#(nop) ` and the comment as separate words."""
    return " ".join([*shell, "#(nop) ", comment])


def copy_created_by(shell: list[str], comment: str) -> str:
    return " ".join([*shell, "#(nop) " + comment])


def child_doc(parent_doc: dict, config: dict, parent_id: str, created_by: str, diff_id: str | None,
              author: str | None = None, comment: str = "") -> dict:
    """The next image of a stage: the parent's layers and history plus this step."""
    created = rfc3339nano()
    cfg = normalize_config(config)
    cfg["Image"] = parent_id
    entry: dict = {"created": created, "created_by": created_by}
    if comment:
        entry["comment"] = comment
    if diff_id is None:
        entry["empty_layer"] = True
    diff_ids = list((parent_doc.get("rootfs") or {}).get("diff_ids") or [])
    if diff_id is not None:
        diff_ids.append(diff_id)
    doc: dict = {"architecture": parent_doc.get("architecture") or go_arch()}
    who = author if author is not None else parent_doc.get("author")
    if who:
        doc["author"] = who
    doc.update({
        "config": cfg,
        "created": created,
        "history": [*(parent_doc.get("history") or []), entry],
        "os": parent_doc.get("os") or "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    for key in ("variant", "os.version", "os.features"):
        if parent_doc.get(key):
            doc[key] = parent_doc[key]
    return doc


def config_fingerprint(cfg: dict) -> str:
    return json.dumps(normalize_config(cfg), sort_keys=True, separators=(",", ":"))
