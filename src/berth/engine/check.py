"""`berth system check`: the daemon's state compared with what exists on the host.

Berth keeps its truth in SQLite (containers, images, layers, volumes, networks,
endpoints) and leaves traces on the host: snapshot/state/run directories, mounts,
cgroups, monitor processes, network namespaces, veths and the `ip berth` nftables
table. A daemon killed at any instant must leave the two consistent once it has
restarted (reconcile() and friends); this module checks that, and repairs leftovers.

Rules:
- Repairs only remove leftovers (traces of objects the metadata does not hold, or of
  runs that ended) or re-derive state that is rendered from metadata (the nft table).
  An acknowledged object (a row) is never removed: what looks wrong with one is
  reported only ("lost" findings have no repair).
- A live daemon is busy: a start in progress has mounts before it is "running", an
  exit has a netns until its detach finishes, a veth is reaped 1 s after its exit.
  Containers whose lock is held or whose exit is being handled are skipped, and a
  live check keeps only findings seen in two passes 2 s apart.
- cgroups are looked at only for ids this daemon knows (rows and directory traces):
  several engines (and test sandboxes) share the host's cgroup hierarchy.

At daemon start (daemon.startup, after reconcile) the check runs once with repair:
nothing is in flight then, so build contexts and staging directories are leftovers
too. What it repaired is logged as a warning and kept for `system check` to show.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from typing import Any, Callable

from berth.engine.check_host import (_DNAT, _IFNAME, _MASQ, _cmdline, _is_cgroup, _ppid,  # noqa: F401
                                     cgroup_dirs, cgroup_procs, link_names, monitor_processes,
                                     read_mount_points, veth_links)

log = logging.getLogger("berth.check")

HEX64 = re.compile(r"^[0-9a-f]{64}$")
SECOND_PASS_DELAY = 2.0


@dataclass
class Finding:
    kind: str          # container, snapshot, mount, cgroup, monitor, netns, endpoint, veth, nft, image, layer, volume, build
    subject: str       # the id, name or path concerned
    problem: str       # what is wrong, in words
    repair: str = ""   # what a repair does ("" = reported only: never touched)
    repaired: bool = False
    error: str = ""    # why a repair failed
    fix: Callable[[], Any] | None = field(default=None, repr=False, compare=False)

    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.subject, self.problem)

    def to_doc(self) -> dict:
        return {"Kind": self.kind, "Subject": self.subject, "Problem": self.problem, "Repair": self.repair,
                "Repaired": self.repaired, "Error": self.error}


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    startup: list[dict] = field(default_factory=list)

    def to_doc(self) -> dict:
        remaining = [f for f in self.findings if not f.repaired]
        return {"Findings": [f.to_doc() for f in self.findings], "Checked": self.checked,
                "Repaired": len(self.findings) - len(remaining), "Remaining": len(remaining),
                "StartupRepairs": self.startup}


# ---------------------------------------------------------------------- the checker
class Checker:
    """One pass over the daemon's state; `run` adds the second pass and the repairs."""

    def __init__(self, daemon: Any, startup: bool = False) -> None:
        self.d = daemon
        self.startup = startup
        self.svc = daemon.containers
        self.data_root = os.path.realpath(daemon.cfg.data_root)
        self.exec_root = os.path.realpath(daemon.cfg.exec_root)

    async def run(self, repair: bool) -> Report:
        report = Report()
        first = await self.scan(report.checked)
        if first and not self.startup:
            await asyncio.sleep(SECOND_PASS_DELAY)
            again = {f.key(): f for f in await self.scan({})}
            first = [again[f.key()] for f in first if f.key() in again]
        report.findings = first
        if repair:
            for f in first:
                if f.fix is None:
                    continue
                try:
                    result = f.fix()
                    if asyncio.iscoroutine(result):
                        await result
                    f.repaired = True
                except Exception as e:  # a failed repair is reported, never fatal
                    f.error = str(e)
        report.startup = list(getattr(self.d, "startup_check", []) or [])
        return report

    # ------------------------------------------------------------------ one pass
    async def scan(self, checked: dict[str, int]) -> list[Finding]:
        out: list[Finding] = []
        rows = self.d.md.query("SELECT id, removing FROM containers")
        self.rows = {r["id"]: bool(r["removing"]) for r in rows}
        self.live = dict(self.svc.containers)
        self.busy = {cid for cid, c in self.live.items() if self._busy(c)}
        self.running = {cid for cid, c in self.live.items() if c.running}
        self.allowed = self.running | self.busy   # ids that may have run-time traces
        checked["containers"] = len(self.rows)
        self._containers(out)
        self._mounts(out, checked)
        self.monitor_map, self.zygotes = monitor_processes(self.exec_root)
        self._cgroups(out, checked)
        self._monitors(out, checked)
        self._runtime_state(out)
        if getattr(self.d, "networks", None) is not None:
            await self._network(out, checked)
        self._images(out, checked)
        self._volumes(out, checked)
        if self.startup:
            self._build_leftovers(out)
        return out

    def _busy(self, c: Any) -> bool:
        if c.lock.locked() or c.state.get("Status") in ("removing", "restarting") or c.state.get("Restarting"):
            return True
        if not c.running and c.watch_task is not None and not c.watch_task.done():
            return True  # its exit is being handled
        return c.restart_task is not None and not c.restart_task.done()

    # ------------------------------------------------------------------ containers
    def _containers(self, out: list[Finding]) -> None:
        snaps = self.d.snaps
        for cid, removing in self.rows.items():
            if removing and cid not in self.live:
                out.append(Finding("container", cid, "row marked for removal but not being removed",
                                   "finish the removal", fix=lambda cid=cid: self.svc._finish_removal(cid)))
                continue
            c = self.live.get(cid)
            if c is None:
                out.append(Finding("container", cid, "row not loaded by the daemon (restart the daemon)"))
                continue
            if not os.path.isdir(os.path.join(snaps.container_dir(cid), "upper")):
                out.append(Finding("container", cid, "rw layer directory is missing (lost)"))
            if c.state.get("_CommitPause") and cid not in self.busy:
                if c.state.get("Paused") and c.running:
                    out.append(Finding("container", cid, "left paused by a commit that was cut short",
                                       "unpause it", fix=lambda c=c: self._thaw(c)))
                else:
                    out.append(Finding("container", cid, "mark of a commit that was cut short",
                                       "clear it", fix=lambda c=c: self._clear_commit_mark(c)))
            state_dir = self.svc.state_dir(cid)
            if not os.path.isdir(state_dir):
                out.append(Finding("container", cid, f"state directory {state_dir} is missing",
                                   "re-create the empty directory",
                                   fix=lambda p=state_dir: os.makedirs(p, exist_ok=True)))
            for chain in c.doc.get("_LayerChain", []):
                row = self.d.md.one("SELECT cache_id FROM layers WHERE chain_id=?", (chain,))
                if row is None or not os.path.isdir(snaps.layer_diff(row["cache_id"])):
                    out.append(Finding("container", cid, f"image layer {chain[:19]} is missing (lost)"))
        known = set(self.rows)
        for name in os.listdir(snaps.containers_dir):
            path = os.path.join(snaps.containers_dir, name)
            if name.startswith(".rm-"):
                out.append(Finding("snapshot", path, "half-deleted rw layer", "delete it",
                                   fix=lambda p=path: _remove(p)))
            elif name not in known:
                out.append(Finding("snapshot", path, "rw layer of no container", "delete it",
                                   fix=lambda n=name: snaps.remove(n)))
        for base, what in ((os.path.join(self.d.cfg.data_root, "containers"), "state directory"),
                           (os.path.join(self.d.cfg.exec_root, "c"), "run directory")):
            for name in _listdir(base):
                if name not in known and HEX64.match(name):
                    path = os.path.join(base, name)
                    out.append(Finding("container", path, f"{what} of no container", "delete it",
                                       fix=lambda p=path: shutil.rmtree(p, ignore_errors=True)))

    async def _thaw(self, c: Any) -> None:
        c.state.pop("_CommitPause", None)
        await self.d.resources.unpause(c.id)  # saves the state without the mark

    def _clear_commit_mark(self, c: Any) -> None:
        c.state.pop("_CommitPause", None)
        self.svc._save_state(c)

    # ------------------------------------------------------------------ mounts
    def _mounts(self, out: list[Finding], checked: dict[str, int]) -> None:
        from berth.snapshots import mount as m

        vols = self.svc.mounts.volumes
        points = [p for p in read_mount_points()
                  if p.startswith(self.data_root + "/") or p.startswith(self.exec_root + "/")]
        checked["mounts"] = len(points)
        for point in sorted(set(points), key=len, reverse=True):
            why = self._unexpected_mount(point, vols)
            if why is None:
                continue
            repairable, text = why
            out.append(Finding("mount", point, text, "unmount it (lazy)" if repairable else "",
                               fix=(lambda p=point: m.unmount(p, lazy=True)) if repairable else None))

    def _unexpected_mount(self, point: str, vols: Any) -> tuple[bool, str] | None:
        """None when the mount is expected; else (repairable, why)."""
        if point.startswith(self.exec_root + "/"):
            rel = point[len(self.exec_root) + 1:].split("/")
            if rel[0] == "netns" and len(rel) == 2:
                return None if rel[1] in self.allowed else (True, "network namespace of a container that is not running")
            if rel[0] == "runtime-crun" or rel[0].startswith("runtime-"):
                return None
            return (False, "unknown mount under the exec root")
        rel = point[len(self.data_root) + 1:].split("/")
        if rel[:2] == ["overlay", "containers"] and len(rel) >= 4:
            cid = rel[2]
            if cid in self.allowed:
                return None
            return (True, "rootfs mount of a container that is not running" if cid in self.rows
                    else "rootfs mount of no container")
        if rel[0] == "volumes" and len(rel) == 3 and rel[2] == "_data":
            vol = vols.volumes.get(rel[1])
            if vol is not None and vol.active & self.allowed:
                return None
            return (True, "volume mount no running container uses")
        if rel[0] == "build":
            # A build's RUN or cache mount: in progress while the daemon runs, a leftover at start.
            return (True, "mount of a build that is not running") if self.startup else None
        if rel[0] == "containers" and len(rel) >= 2 and rel[1] in self.allowed:
            return None
        return (False, "unknown mount under the data root")

    # ------------------------------------------------------------------ cgroups
    def _trace_ids(self) -> set[str]:
        ids = set(self.rows)
        for base in (os.path.join(self.d.cfg.exec_root, "c"), self.d.snaps.containers_dir,
                     os.path.join(self.d.cfg.data_root, "containers")):
            ids.update(n.replace(".rm-", "") for n in _listdir(base))
        for name in _listdir(self.d.cfg.exec_root):
            if name.startswith("runtime-"):
                ids.update(_listdir(os.path.join(self.d.cfg.exec_root, name)))
        return {i for i in ids if HEX64.match(i)}

    def _cgroups(self, out: list[Finding], checked: dict[str, int]) -> None:
        n = 0
        for cid in self._trace_ids():
            for path in cgroup_dirs(cid):
                n += 1
                if cid in self.allowed:
                    continue
                if not _is_cgroup(path):
                    out.append(Finding("cgroup", path, "plain directory where a cgroup should be (the hierarchy "
                                       "is not mounted there)", "delete it",
                                       fix=lambda p=path: shutil.rmtree(p, ignore_errors=True)))
                    continue
                procs = cgroup_procs(path)
                if procs and self.startup and cid in self.monitor_map:
                    continue  # its monitor's finding deletes the container, and the cgroup with it
                if procs:
                    out.append(Finding("cgroup", path, f"cgroup of a container that is not running holds "
                                       f"processes {procs[:5]}"))
                else:
                    out.append(Finding("cgroup", path, "empty cgroup of a container that is not running",
                                       "remove it", fix=lambda p=path: os.rmdir(p)))
        checked["cgroups"] = n

    # ------------------------------------------------------------------ monitors
    def _monitors(self, out: list[Finding], checked: dict[str, int]) -> None:
        monitors, zygotes = self.monitor_map, self.zygotes
        checked["monitors"] = sum(len(p) for p in monitors.values())
        for cid, pids in monitors.items():
            if cid in self.allowed:
                continue
            if cid in self.rows and not self.startup:
                out.append(Finding("monitor", cid, f"monitor process {pids} alive for a container the daemon "
                                   "thinks stopped"))
            elif cid in self.rows:
                # At start: a start the daemon died in before it recorded "running" (never
                # acknowledged). reconcile() has taken it as stopped: make it so.
                out.append(Finding("monitor", cid, f"monitor process {pids} of a start that was cut short",
                                   "delete its container with the runtime and kill the monitor",
                                   fix=lambda cid=cid, pids=pids: self._kill_monitor(cid, pids)))
            else:
                out.append(Finding("monitor", cid, f"monitor process {pids} of no container",
                                   "delete its container with the runtime and kill the monitor",
                                   fix=lambda cid=cid, pids=pids: self._kill_monitor(cid, pids)))
        for cid in self.running - self.busy:
            if cid not in monitors:
                out.append(Finding("monitor", cid, "running container without a monitor process"))
        me = os.getpid()
        for pid in zygotes:
            parent = _ppid(pid)
            if parent == me or "berth" in _cmdline(parent):
                continue
            out.append(Finding("monitor", str(pid), "monitor zygote of a daemon that is gone", "kill it",
                               fix=lambda pid=pid: os.kill(pid, signal.SIGKILL)))

    def _kill_monitor(self, cid: str, pids: list[int]) -> None:
        self._runtime_delete(cid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _runtime_delete(self, cid: str) -> None:
        for name, binary in self.d.cfg.runtimes.items():
            root = os.path.join(self.d.cfg.exec_root, "runtime-" + name)
            if os.path.exists(os.path.join(root, cid)):
                subprocess.run([binary, "--root", root, "delete", "--force", cid], capture_output=True, timeout=30)

    def _runtime_state(self, out: list[Finding]) -> None:
        for name in _listdir(self.d.cfg.exec_root):
            if not name.startswith("runtime-"):
                continue
            for cid in _listdir(os.path.join(self.d.cfg.exec_root, name)):
                if HEX64.match(cid) and cid not in self.allowed:
                    out.append(Finding("runtime", f"{name}/{cid}", "runtime state of a container that is not running",
                                       "delete it with the runtime (--force)",
                                       fix=lambda cid=cid: self._runtime_delete(cid)))

    # ------------------------------------------------------------------ networks
    async def _network(self, out: list[Finding], checked: dict[str, int]) -> None:
        from berth.network.docs import bridge_name
        from berth.network.netlink import Netlink

        net = self.d.networks
        netns_dir = net.netns_dir
        for name in _listdir(netns_dir):
            if name not in self.allowed:
                path = os.path.join(netns_dir, name)
                out.append(Finding("netns", path, "network namespace file of a container that is not running",
                                   "unmount and delete it", fix=lambda p=path: Netlink.delete_netns(p)))
        endpoints = net.store.endpoints()
        checked["endpoints"] = len(endpoints)
        for ep in endpoints:
            if ep.network_id not in net.nets:
                problem = "endpoint (address allocation) on a network that does not exist"
            elif ep.container_id not in self.rows:
                problem = "endpoint (address allocation) of no container"
            elif ep.container_id not in self.allowed:
                problem = "endpoint (address allocation) of a container that is not running"
            else:
                continue
            out.append(Finding("endpoint", f"{ep.ip or ep.id[:12]} ({ep.container_id[:12]})", problem,
                               "release it", fix=lambda ep=ep: net._drop_endpoint(ep)))
        bridges = {bridge_name(doc): doc for doc in net.nets.values() if doc["Driver"] == "bridge"}
        checked["networks"] = len(net.nets)
        links = await asyncio.to_thread(link_names)
        for name, doc in bridges.items():
            if links and name not in links:
                out.append(Finding("network", doc["Name"], f"bridge device {name} is missing", "re-create it",
                                   fix=lambda doc=doc: net._ensure_bridge(doc)))
        reaping = set(getattr(net, "_reaping", ()))
        if reaping:  # stragglers of ended endpoints, deleted 1 s after the exit: let them go first
            await asyncio.wait(reaping, timeout=5)
        expected_veths = {ep.doc.get("veth") for ep in endpoints}
        for link in await asyncio.to_thread(veth_links):
            if link["master"] in bridges and link["name"] not in expected_veths:
                out.append(Finding("veth", link["name"], f"veth on {link['master']} of no endpoint", "delete it",
                                   fix=lambda n=link["name"]: asyncio.to_thread(net.netlink.delete_link, n)))
        if net.nft is not None:
            await self._nft(out, bridges)

    async def _nft(self, out: list[Finding], bridges: dict[str, dict]) -> None:
        from berth.errors import BerthError
        from berth.network import ipam

        net = self.d.networks
        try:
            text = await asyncio.to_thread(net.nft.run, "list table ip berth")
        except BerthError:
            out.append(Finding("nft", "table ip berth", "the table is missing", "render it again from the state",
                               fix=net._apply_rules))
            return
        have_dnat = set(_DNAT.findall(text))
        want_dnat = {(p.rule.proto, str(p.rule.host_port), p.rule.container_ip, str(p.rule.container_port))
                     for pubs in net.published.values() for p in pubs}
        have_masq = set(_MASQ.findall(text))
        want_masq = set()
        for name, doc in bridges.items():
            masq = (doc.get("Options") or {}).get("com.docker.network.bridge.enable_ip_masquerade", "true")
            if not doc.get("Internal") and masq.lower() not in ("false", "0"):
                want_masq.add((str(ipam.Pool.from_config(doc["IPAM"]["Config"][0]).subnet), name))
        problems = [f"port rule {r[0]} {r[1]} -> {r[2]}:{r[3]} of no published port" for r in have_dnat - want_dnat]
        problems += [f"port rule {r[0]} {r[1]} -> {r[2]}:{r[3]} is missing" for r in want_dnat - have_dnat]
        problems += [f"masquerade of {s} via {b}: no such network" for s, b in have_masq - want_masq]
        problems += [f"masquerade of {s} via {b} is missing" for s, b in want_masq - have_masq]
        problems += [f"rules for interface {n}: no such network" for n in set(_IFNAME.findall(text)) - set(bridges)]
        for p in problems:
            out.append(Finding("nft", "table ip berth", p, "render the table again from the state",
                               fix=net._apply_rules))

    # ------------------------------------------------------------------ images
    def _images(self, out: list[Finding], checked: dict[str, int]) -> None:
        from berth.images.store import chain_id

        md, snaps = self.d.md, self.d.snaps
        layers = {r["chain_id"]: r["cache_id"] for r in md.query("SELECT chain_id, cache_id FROM layers")}
        images = md.query("SELECT id, config FROM images")
        checked["images"] = len(images)
        checked["layers"] = len(layers)
        needed: set[str] = set()
        for row in images:
            if not os.path.exists(self.d.blobs.path(row["id"])):
                out.append(Finding("image", row["id"][7:19], "config blob is missing (lost)"))
            parent = ""
            for diff_id in json.loads(row["config"]).get("rootfs", {}).get("diff_ids", []):
                parent = chain_id(parent, diff_id)
                needed.add(parent)
                if parent not in layers:
                    out.append(Finding("image", row["id"][7:19], f"layer {parent[:19]} has no row (lost)"))
        for r in md.query("SELECT doc FROM containers"):
            needed.update(json.loads(r["doc"]).get("_LayerChain", []))
        ids = {row["id"] for row in images}
        for r in md.query("SELECT ref, image_id FROM image_refs"):
            if r["image_id"] not in ids:
                out.append(Finding("image", r["ref"], "reference to an image that does not exist", "delete the reference",
                                   fix=lambda ref=r["ref"]: md.execute("DELETE FROM image_refs WHERE ref=?", (ref,))))
        for chain, cache in layers.items():
            if not os.path.isdir(snaps.layer_diff(cache)):
                out.append(Finding("layer", chain[:19], f"layer directory {cache} is missing (lost)"))
            elif chain not in needed:
                out.append(Finding("layer", chain[:19], "layer no image or container uses",
                                   "delete unused layers", fix=self.d.images.gc_layers))
        known = set(layers.values())
        for name in os.listdir(snaps.layers_dir):
            if name not in known:
                out.append(Finding("layer", os.path.join(snaps.layers_dir, name), "layer directory with no row",
                                   "delete it", fix=lambda n=name: snaps.remove_layer(n)))

    # ------------------------------------------------------------------ volumes
    def _volumes(self, out: list[Finding], checked: dict[str, int]) -> None:
        vs = self.svc.mounts.volumes
        rows = self.d.md.query("SELECT name, removing FROM volumes")
        checked["volumes"] = len(rows)
        names = set()
        for r in rows:
            name = r["name"]
            names.add(name)
            if r["removing"]:
                if name not in vs.volumes:
                    out.append(Finding("volume", name, "removal marked but not finished", "finish the removal",
                                       fix=lambda n=name: vs._delete(n)))
                continue
            if not os.path.isdir(vs.data_dir(name)):
                out.append(Finding("volume", name, "data directory is missing (its content is lost)",
                                   "re-create it empty", fix=lambda n=name: os.makedirs(vs.data_dir(n), exist_ok=True)))
        for name in _listdir(vs.root):
            if name in names:
                continue
            base = vs.base_dir(name)
            if os.path.isdir(os.path.join(base, "_data")):
                out.append(Finding("volume", name, "volume directory without a row", "adopt it as a volume",
                                   fix=lambda n=name: self._adopt(n)))
            else:
                out.append(Finding("volume", base, "volume directory without data or row", "delete it",
                                   fix=lambda p=base: shutil.rmtree(p, ignore_errors=True)))

    def _adopt(self, name: str) -> None:
        from berth.volumes.store import Volume, _created_at

        vs = self.svc.mounts.volumes
        vs._insert(Volume(name, "local", _created_at(), vs.data_dir(name)))

    # ------------------------------------------------------------------ start-only
    def _build_leftovers(self, out: list[Finding]) -> None:
        build = os.path.join(self.d.cfg.data_root, "build")
        for name in _listdir(build):
            if name.startswith(("ctx-", "tmp-")):
                path = os.path.join(build, name)
                out.append(Finding("build", path, "build directory of a build that is not running", "delete it",
                                   fix=lambda p=path: _remove(p)))


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _remove(path: str) -> None:
    from berth.snapshots.remove import remove_tree

    remove_tree(path)


async def check(daemon: Any, repair: bool) -> Report:
    """What the API's `POST /berth/system/check` runs."""
    return await Checker(daemon).run(repair)


async def startup_check(daemon: Any) -> None:
    """After reconcile at daemon start: repair leftovers, log them, keep them for the report."""
    daemon.startup_check = []
    try:
        report = await Checker(daemon, startup=True).run(repair=True)
    except Exception:  # the check must never keep the daemon from starting
        log.exception("consistency check at start failed")
        return
    daemon.startup_check = [f.to_doc() for f in report.findings]
    for f in report.findings:
        log.warning("start-up check: %s %s: %s%s", f.kind, f.subject, f.problem,
                    f" (repaired: {f.repair})" if f.repaired else (f" (repair failed: {f.error})" if f.error else
                                                                  " (not repaired)"))

