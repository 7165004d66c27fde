"""Chaos harness: random operations with berthd killed by SIGKILL at random moments.

A seeded RNG picks operations (create, start, stop, rm, commit, build, pull, push,
volume create/rm, network create/rm) run with the real docker CLI against a
sandboxed berthd. At chosen operations the daemon is killed with SIGKILL, either in
the middle of the operation (the CLI runs in a thread, the kill comes 0-300 ms after
it started) or after it, then restarted. After every restart:

- every acknowledged object (the CLI said yes before the kill) is there, in the state
  it was acknowledged in (running containers still run: live-restore), and usable:
  an acknowledged image, volume and network are used together by a `run --rm`;
- an object whose operation was interrupted is either fully there or fully absent
  (and from then on it is what was observed);
- `berth system check` finds nothing (its start-up repairs are counted apart: those
  are crash leftovers the daemon removed at start, which is its job);
- from outside the daemon: no mount, cgroup or monitor process of a container that is
  not running, no veth beyond the running containers', no bridge of no network.

The operation sequence and kill points depend only on the seed; outcomes of a kill
mid-operation depend on timing, and the checks accept exactly the outcomes allowed.
Used by tests/integration/test_chaos.py (short) and bench/chaos_bench.py (full).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import SRC, Sandbox  # noqa: E402

REGISTRY = "127.0.0.1:5000"
ABSENT, STOPPED, RUNNING = "absent", "stopped", "running"


@dataclass
class ChaosConfig:
    seed: int = 1
    operations: int = 40
    kills: int = 8
    registry: bool = True          # pull/push against `berth registry serve` in the sandbox
    build: bool = True
    max_containers: int = 8
    verbose: bool = False


@dataclass
class ChaosResult:
    operations: int = 0
    kills: int = 0
    mid_operation_kills: int = 0
    checks: int = 0                       # post-restart verifications
    objects_checked: int = 0              # acknowledged objects verified present (summed over checks)
    interrupted: int = 0                  # operations a kill interrupted (outcome either way)
    startup_repairs: list[str] = field(default_factory=list)   # crash leftovers removed at daemon start
    problems: list[str] = field(default_factory=list)          # losses, leaks, half-made objects, errors

    def summary(self) -> str:
        return (f"operations={self.operations} kills={self.kills} (mid-operation {self.mid_operation_kills}) "
                f"checks={self.checks} objects_checked={self.objects_checked} interrupted={self.interrupted} "
                f"startup_repairs={len(self.startup_repairs)} problems={len(self.problems)}")


class Chaos:
    def __init__(self, sb: Sandbox, cfg: ChaosConfig) -> None:
        self.sb = sb
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.res = ChaosResult()
        # name -> set of states it may be in (one element once known)
        self.containers: dict[str, set[str]] = {}
        self.container_net: dict[str, str] = {}
        self.container_vol: dict[str, str] = {}
        self.images: dict[str, set[bool]] = {}    # tag -> {True} acked, {True, False} uncertain
        self.volumes: dict[str, set[bool]] = {}
        self.networks: dict[str, set[bool]] = {}
        self.pushed: dict[str, set[bool]] = {}    # registry refs
        self.ids_seen: set[str] = set()
        self.counter = 0
        self.step = 0
        self.ctx_dir = os.path.join(sb.dir, "chaos-ctx")
        self.kill_at: dict[int, bool] = {}        # op index -> mid-operation?

    # ------------------------------------------------------------ plumbing
    def log(self, text: str) -> None:
        if self.cfg.verbose:
            print(f"[chaos {self.step}] {text}", flush=True)

    def problem(self, text: str) -> None:
        msg = f"seed={self.cfg.seed} op#{self.step}: {text}"
        self.res.problems.append(msg)
        print("CHAOS PROBLEM: " + msg, flush=True)

    def docker(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = dict(self.sb.env(), DOCKER_BUILDKIT="0", HOME=self.sb.dir,
                   DOCKER_CONFIG=os.path.join(self.sb.dir, ".docker"))
        try:
            return subprocess.run(["/usr/local/bin/docker", *args], env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as e:
            return subprocess.CompletedProcess(e.cmd, 124, "", f"timeout after {timeout}s")

    def new_name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # ------------------------------------------------------------ set-up
    def setup(self) -> None:
        os.makedirs(self.ctx_dir, exist_ok=True)
        if self.cfg.registry:
            log = open(os.path.join(self.sb.dir, "registry.log"), "ab")
            subprocess.Popen(self.sb.nsenter_argv([sys.executable, "-m", "berth.cli.main", "registry", "serve",
                                                   "--addr", REGISTRY, "--root", os.path.join(self.sb.dir, "reg")]),
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                             env=dict(os.environ, PYTHONPATH=SRC))
            log.close()
            probe = "import socket,time\nfor _ in range(200):\n try:\n  socket.create_connection(('127.0.0.1',5000),1);break\n except OSError: time.sleep(0.05)\n"
            self.sb.nsenter([sys.executable, "-c", probe], timeout=30)
        self.images["busybox:latest"] = {True}

    def plan_kills(self) -> None:
        n = self.cfg.operations
        points = self.rng.sample(range(1, n), min(self.cfg.kills, n - 1))
        self.kill_at = {p: self.rng.random() < 0.75 for p in points}

    # ------------------------------------------------------------ choosing an operation
    def _known(self, pool: dict, want=True) -> list[str]:
        return sorted(k for k, v in pool.items() if v == {want})

    def _containers_in(self, state: str) -> list[str]:
        return sorted(n for n, s in self.containers.items() if s == {state})

    def pick(self) -> tuple[str, list[str]]:
        """(operation, arguments), only among operations possible in the known state."""
        choices: list[tuple[float, str]] = []
        live = [n for n, s in self.containers.items() if s != {ABSENT}]
        if len(live) < self.cfg.max_containers:
            choices += [(3, "create"), (2, "run")]
        if self._containers_in(STOPPED):
            choices.append((2, "start"))
        if self._containers_in(RUNNING):
            choices += [(2, "stop"), (1, "commit")]
        if live:
            choices.append((2, "rm"))
        if self.cfg.build:
            choices.append((1, "build"))
        if self.cfg.registry:
            choices.append((1, "push"))
            if self._known(self.pushed):
                choices.append((1, "pull"))
        choices.append((1.5, "volume_create"))
        if self._unused(self.volumes, self.container_vol):
            choices.append((1, "volume_rm"))
        choices.append((1, "network_create"))
        if self._unused(self.networks, self.container_net):
            choices.append((1, "network_rm"))
        total = sum(w for w, _ in choices)
        x = self.rng.random() * total
        for w, op in choices:
            x -= w
            if x <= 0:
                return op, self._args(op)
        return choices[-1][1], self._args(choices[-1][1])

    def _unused(self, pool: dict, used_by: dict) -> list[str]:
        in_use = {v for n, v in used_by.items() if self.containers.get(n, {ABSENT}) != {ABSENT}}
        return [k for k in self._known(pool) if k not in in_use]

    def _args(self, op: str) -> list[str]:
        r = self.rng
        if op in ("create", "run"):
            args = [self.new_name("c")]
            nets = self._known(self.networks)
            vols = self._known(self.volumes)
            args.append(r.choice(nets) if nets and r.random() < 0.5 else "")
            args.append(r.choice(vols) if vols and r.random() < 0.5 else "")
            imgs = self._known(self.images)
            args.append(r.choice(imgs))
            return args
        if op == "start":
            return [r.choice(self._containers_in(STOPPED))]
        if op == "stop":
            return [r.choice(self._containers_in(RUNNING))]
        if op == "rm":
            return [r.choice(sorted(n for n, s in self.containers.items() if s != {ABSENT}))]
        if op == "commit":
            return [r.choice(self._containers_in(RUNNING)), self.new_name("commit") + ":v1"]
        if op == "build":
            return [self.new_name("built") + ":v1"]
        if op == "push":
            return [r.choice(self._known(self.images)), f"{REGISTRY}/chaos/{self.new_name('p')}:v1"]
        if op == "pull":
            return [r.choice(self._known(self.pushed))]
        if op == "volume_create":
            return [self.new_name("vol")]
        if op == "volume_rm":
            return [r.choice(self._unused(self.volumes, self.container_vol))]
        if op == "network_create":
            return [self.new_name("net")]
        if op == "network_rm":
            return [r.choice(self._unused(self.networks, self.container_net))]
        raise ValueError(op)

    # ------------------------------------------------------------ running an operation
    def execute(self, op: str, args: list[str]) -> bool:
        """Run the operation's CLI command(s); True when every one succeeded."""
        if op in ("create", "run"):
            name, net, vol, img = args
            argv = ["create" if op == "create" else "run"] + (["-d"] if op == "run" else [])
            argv += ["--name", name]
            if net:
                argv += ["--network", net]
            if vol:
                argv += ["-v", f"{vol}:/data"]
            argv += [img, "sleep", "3600"]
            return self._ok(self.docker(*argv), op, args)
        if op == "start":
            return self._ok(self.docker("start", args[0]), op, args)
        if op == "stop":
            return self._ok(self.docker("stop", "-t", "1", args[0]), op, args)
        if op == "rm":
            return self._ok(self.docker("rm", "-f", args[0]), op, args)
        if op == "commit":
            return self._ok(self.docker("commit", args[0], args[1]), op, args)
        if op == "build":
            with open(os.path.join(self.ctx_dir, "Dockerfile"), "w") as f:
                f.write(f"FROM busybox\nRUN echo {args[0]} > /built\nCMD [\"cat\", \"/built\"]\n")
            return self._ok(self.docker("build", "-q", "-t", args[0], self.ctx_dir), op, args)
        if op == "push":
            src, ref = args
            return (self._ok(self.docker("tag", src, ref), op, args) and
                    self._ok(self.docker("push", ref), op, args))
        if op == "pull":
            ref = args[0]
            self.docker("rmi", ref)
            return self._ok(self.docker("pull", ref), op, args)
        if op == "volume_create":
            return self._ok(self.docker("volume", "create", args[0]), op, args)
        if op == "volume_rm":
            return self._ok(self.docker("volume", "rm", args[0]), op, args)
        if op == "network_create":
            return self._ok(self.docker("network", "create", args[0]), op, args)
        if op == "network_rm":
            return self._ok(self.docker("network", "rm", args[0]), op, args)
        raise ValueError(op)

    def _ok(self, r: subprocess.CompletedProcess, op: str, args: list[str]) -> bool:
        if r.returncode != 0:
            self._last_error = f"{op} {args}: rc={r.returncode} {r.stderr.strip()[:300]}"
        return r.returncode == 0

    def apply(self, op: str, args: list[str], ok: bool, interrupted: bool) -> None:
        """Record what the operation means for the model: known when acknowledged,
        either-way when interrupted (resolved at the next check)."""
        def setc(name: str, state: str) -> None:
            before = self.containers.get(name, {ABSENT})
            self.containers[name] = {state} if ok else (before | {state})

        def setp(pool: dict, key: str, present: bool) -> None:
            before = pool.get(key, {not present})
            pool[key] = {present} if ok else (before | {present})

        if op in ("create", "run"):
            name, net, vol, img = args
            if net:
                self.container_net[name] = net
            if vol:
                self.container_vol[name] = vol
            setc(name, STOPPED if op == "create" else RUNNING)
            if not ok:
                self.containers[name] |= {STOPPED}  # run = create + start: the start may be what was cut
        elif op == "start":
            setc(args[0], RUNNING)
        elif op == "stop":
            setc(args[0], STOPPED)
        elif op == "rm":
            setc(args[0], ABSENT)
        elif op in ("commit", "build"):
            setp(self.images, args[-1], True)
        elif op == "push":
            setp(self.images, args[1], True)
            if ok:  # an interrupted push is never pulled: the registry may hold half of it
                self.pushed[args[1]] = {True}
        elif op == "pull":
            setp(self.images, args[0], True)
        elif op == "volume_create":
            setp(self.volumes, args[0], True)
        elif op == "volume_rm":
            setp(self.volumes, args[0], False)
        elif op == "network_create":
            setp(self.networks, args[0], True)
        elif op == "network_rm":
            setp(self.networks, args[0], False)

    def run_op(self, op: str, args: list[str], mid_kill: bool) -> None:
        self._last_error = ""
        if not mid_kill:
            ok = self.execute(op, args)
            if not ok:
                self.problem(f"operation failed without a kill: {self._last_error}")
            self.apply(op, args, ok, False)
            return
        box: dict[str, bool] = {}
        t = threading.Thread(target=lambda: box.setdefault("ok", self.execute(op, args)))
        t.start()
        time.sleep(self.rng.random() * 0.3)
        self.sb.kill_daemon(signal.SIGKILL)
        t.join(180)
        ok = box.get("ok", False)
        if not ok:
            self.res.interrupted += 1
        self.log(f"{op} {args} interrupted by a kill: ok={ok}")
        self.apply(op, args, ok, not ok)

    # ------------------------------------------------------------ after a restart
    def restart(self) -> None:
        self.sb.start_daemon()
        self.res.kills += 1

    def verify(self) -> None:
        """Every acknowledged object there and usable; uncertain ones resolved; no leftovers."""
        self.res.checks += 1
        ps = self.docker("ps", "-a", "--no-trunc", "--format", "{{.Names}}\t{{.State}}\t{{.ID}}")
        if ps.returncode != 0:
            self.problem(f"ps failed after restart: {ps.stderr}")
            return
        seen: dict[str, str] = {}
        for line in ps.stdout.splitlines():
            name, state, cid = line.split("\t")
            self.ids_seen.add(cid)
            seen[name] = RUNNING if state == "running" else STOPPED if state in ("created", "exited") else state
        for name, allowed in list(self.containers.items()):
            now = seen.pop(name, ABSENT)
            if now not in allowed:
                self.problem(f"container {name}: expected {sorted(allowed)}, found {now}")
            elif len(allowed) == 1 and now != ABSENT:
                self.res.objects_checked += 1
            self.containers[name] = {now}
        present = sorted(n for n, s in self.containers.items() if s != {ABSENT})
        if present:
            r = self.docker("inspect", "--format", "{{.Name}} {{.State.Status}} {{.GraphDriver.Name}}", *present)
            if r.returncode != 0 or len(r.stdout.splitlines()) != len(present):
                self.problem(f"containers not inspectable: {r.stderr.strip()[:300]}")
        for name, state in seen.items():
            # Not ours: a build's RUN container cut by a kill (docker leaves those too).
            self.log(f"extra container {name} ({state}): removing it")
            if self.docker("rm", "-f", name).returncode != 0:
                self.problem(f"extra container {name} cannot be removed")
        self._verify_pool("image", self.images,
                          self.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split())
        self._verify_pool("volume", self.volumes, self.docker("volume", "ls", "-q").stdout.split())
        self._verify_pool("network", self.networks,
                          self.docker("network", "ls", "--format", "{{.Name}}").stdout.split())
        self._usable()
        self._system_check(after_restart=True)
        self._outside()

    def _verify_pool(self, what: str, pool: dict, present: list[str]) -> None:
        have = set(present)
        for key, allowed in list(pool.items()):
            now = key in have
            if now not in allowed:
                self.problem(f"{what} {key}: expected {'present' if True in allowed else 'absent'}, "
                             f"found {'present' if now else 'absent'}")
            elif allowed == {True}:
                self.res.objects_checked += 1
            pool[key] = {now}

    def _usable(self) -> None:
        """An acknowledged image, volume and network used together."""
        imgs, vols, nets = self._known(self.images), self._known(self.volumes), self._known(self.networks)
        img = self.rng.choice(imgs)
        argv = ["run", "--rm"]
        if vols:
            argv += ["-v", f"{self.rng.choice(vols)}:/v"]
        if nets:
            argv += ["--network", self.rng.choice(nets)]
        argv += ["--entrypoint", "sh", img, "-c", "echo ok > /v/probe 2>/dev/null; echo ok"]
        r = self.docker(*argv)
        if r.returncode != 0 or r.stdout.strip() != "ok":
            self.problem(f"not usable: docker {' '.join(argv)}: rc={r.returncode} {r.stdout!r} {r.stderr.strip()}")

    def _system_check(self, after_restart: bool = False) -> None:
        r = subprocess.run([sys.executable, "-m", "berth.cli.main", "system", "check", "--format", "json"],
                           env=self.sb.env(), capture_output=True, text=True, timeout=120)
        try:
            report = json.loads(r.stdout)
        except ValueError:
            self.problem(f"system check failed: rc={r.returncode} {r.stderr.strip()}")
            return
        for f in (report.get("StartupRepairs") or []) if after_restart else []:
            text = f"{f['Kind']} {f['Subject']}: {f['Problem']}"
            if not f["Repaired"]:
                self.problem(f"start-up check could not repair: {text} {f['Error']}")
            else:
                self.res.startup_repairs.append(f"op#{self.step}: {text}")
        for f in report.get("Findings") or []:
            self.problem(f"system check: {f['Kind']} {f['Subject']}: {f['Problem']}")

    def _outside(self, settle: float = 5.0) -> None:
        """Leftovers seen from outside the daemon; retried for `settle` seconds (veths
        are reaped 1 s after an exit)."""
        deadline = time.monotonic() + settle
        while True:
            issues = self._outside_once()
            if not issues or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        for text in issues:
            self.problem(text)

    def _outside_once(self) -> list[str]:
        issues = []
        running = {l.split("\t")[1]: l.split("\t")[0] for l in self.docker(
            "ps", "--no-trunc", "--format", "{{.ID}}\t{{.Names}}").stdout.splitlines() if "\t" in l}
        running = {v: k for k, v in running.items()}  # id -> name
        self.ids_seen.update(running)
        cgroot = f"/proc/{self.sb.ns_pid}/root/sys/fs/cgroup"  # as the sandbox sees it
        controllers = _listdir(cgroot)
        for cid in self.ids_seen - set(running):
            for ctrl in controllers:
                if os.path.isdir(f"{cgroot}/{ctrl}/berth/{cid}"):
                    issues.append(f"leaked cgroup {ctrl}/berth/{cid[:12]}")
        data, run = os.path.realpath(self.sb.data_root), os.path.realpath(self.sb.exec_root)
        try:
            with open(f"/proc/{self.sb.ns_pid}/mountinfo") as f:
                points = [line.split(" ", 5)[4] for line in f]
        except OSError:
            points = []
        for p in points:
            if p.startswith(data + "/overlay/containers/") or p.startswith(run + "/netns/"):
                cid = p.split("/overlay/containers/")[-1].split("/netns/")[-1].split("/")[0]
                if cid not in running:
                    issues.append(f"leaked mount {p}")
        monitors = _monitor_ids(run)
        for cid in monitors - set(running):
            issues.append(f"leaked monitor process of {cid[:12]}")
        for cid in set(running) - monitors:
            issues.append(f"running container {cid[:12]} has no monitor process")
        nets = self.docker("network", "ls", "--no-trunc", "--format", "{{.ID}}").stdout.split()
        links = json.loads(self.sb.nsenter(["ip", "-j", "link", "show"]).stdout or "[]")
        bridges = {l["ifname"] for l in links if l.get("linkinfo", {}).get("info_kind") == "bridge"
                   or l["ifname"].startswith("br-")}
        expected = {"berth0"} | {"br-" + n[:12] for n in nets}
        for b in sorted(bridges - expected):
            issues.append(f"leaked bridge {b} (no such network)")
        veths = [l["ifname"].split("@")[0] for l in links if l["ifname"].startswith("veth")]
        if len(veths) > len(running):
            issues.append(f"{len(veths)} veths for {len(running)} running containers: {veths}")
        return issues

    # ------------------------------------------------------------ the run
    def run(self) -> ChaosResult:
        self.setup()
        self.plan_kills()
        for i in range(self.cfg.operations):
            self.step = i
            op, args = self.pick()
            mid = self.kill_at.get(i)
            self.log(f"{op} {args}" + ("" if mid is None else f" (kill {'during' if mid else 'after'})"))
            self.run_op(op, args, bool(mid))
            self.res.operations += 1
            if mid is None:
                continue
            if mid:
                self.res.mid_operation_kills += 1
            else:
                self.sb.kill_daemon(signal.SIGKILL)
            self.restart()
            self.verify()
        self.step = self.cfg.operations
        self.teardown()
        return self.res

    def teardown(self) -> None:
        """Everything removed: then nothing at all may be left."""
        names = [n for n, s in self.containers.items() if s != {ABSENT}]
        if names and self.docker("rm", "-f", *names).returncode != 0:
            self.problem("final rm -f failed")
        for n in names:
            self.containers[n] = {ABSENT}
        for v in self._known(self.volumes):
            if self.docker("volume", "rm", v).returncode != 0:
                self.problem(f"final volume rm {v} failed")
            self.volumes[v] = {False}
        for n in self._known(self.networks):
            if self.docker("network", "rm", n).returncode != 0:
                self.problem(f"final network rm {n} failed")
            self.networks[n] = {False}
        self._system_check()
        self._outside()
        self.res.checks += 1


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _monitor_ids(exec_root: str) -> set[str]:
    prefix = os.path.join(exec_root, "c") + "/"
    out = set()
    for pid in _listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            link = os.readlink(f"/proc/{pid}/fd/1")
        except OSError:
            continue
        if link.startswith(prefix) and "/monitor.log" in link:
            out.add(link[len(prefix):].split("/", 1)[0])
    return out


def run_chaos(cfg: ChaosConfig, busybox_tar: str) -> ChaosResult:
    sb = Sandbox()
    try:
        sb.start_daemon()
        sb.import_busybox(busybox_tar)
        return Chaos(sb, cfg).run()
    finally:
        sb.close()
