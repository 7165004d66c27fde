"""Real runs of build_spec output under crun (and runc), inside a private mount namespace.

All runtime commands go through this same file run as a script under
`unshare --mount --propagation private`: it gives the namespace its own
/sys/fs/cgroup tmpfs, lets host.ensure_crun_cgroups mount what crun needs there,
runs the jobs, then removes its cgroups and releases any hierarchy it mounted,
so nothing is mounted in (or left behind on) the host.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve()
SRC = HERE.parents[2] / "src"
if __name__ == "__main__":
    sys.path.insert(0, str(SRC))

import pytest

from berth.runtime import capabilities, host
from berth.runtime.spec import SpecRequest, build_spec

CRUN = "/usr/bin/crun"
RUNC = "/usr/sbin/runc"
BUSYBOX = "/bin/busybox"
CATATONIT = "/usr/bin/catatonit"
APPLETS = ["sh", "echo", "cat", "true", "unshare", "id", "touch", "grep", "hostname", "tr", "ls", "head"]


# ---------------------------------------------------------------- helper (runs inside the namespace)


def _cgroup_mounts() -> list[str]:
    return [m.mount_point for m in host.read_mountinfo()
            if m.fstype in ("cgroup", "cgroup2") and m.mount_point.startswith(host.CGROUP_ROOT + "/")]


def _remove_cgroup_tree(path: str) -> None:
    if not os.path.isdir(path):
        return
    for dirpath, dirnames, _files in os.walk(path, topdown=False):
        for d in dirnames:
            try:
                os.rmdir(os.path.join(dirpath, d))
            except OSError:
                pass
    for _ in range(20):
        try:
            os.rmdir(path)
            return
        except OSError:
            time.sleep(0.05)


def _release_hierarchy(target: str, controller: str) -> None:
    """Unmount a hierarchy we mounted and make the kernel hand the controller back to cgroup2.

    A v1 hierarchy outlives its last mount while it still has (recently removed)
    child cgroups; mounting it once more after they are gone and unmounting again
    lets the kernel destroy it.
    """
    try:
        host._libc_umount(target, host.MNT_DETACH)
    except OSError:
        pass
    for _ in range(10):
        with open("/proc/cgroups") as f:
            row = next((line.split() for line in f if line.split()[0] == controller), None)
        if row is None or row[1] == "0":
            return
        tmp = f"{target}.release"
        os.makedirs(tmp, exist_ok=True)
        try:
            host._libc_mount("cgroup", tmp, "cgroup", 0, controller)
        except OSError:
            return  # held elsewhere (someone else's mount): not ours to release
        try:
            if any(os.path.isdir(os.path.join(tmp, d)) for d in os.listdir(tmp)):
                return  # other users' cgroups live there
        finally:
            time.sleep(0.2)
            host._libc_umount(tmp, host.MNT_DETACH)
            os.rmdir(tmp)
        time.sleep(0.3)


def helper_main(jobs_path: str, results_path: str) -> int:
    jobs = json.loads(Path(jobs_path).read_text())
    results: dict[str, dict] = {"_log": {"messages": []}}
    host.privatize_cgroup_root()
    mounted = host.ensure_crun_cgroups(lambda msg: results["_log"]["messages"].append(msg))
    try:
        for job in jobs["jobs"]:
            binary = CRUN if job["runtime"] == "crun" else RUNC
            base = [binary, "--root", jobs["state_root"]]
            try:
                p = subprocess.run([*base, "run", "-b", job["bundle"], job["id"]], stdin=subprocess.DEVNULL,
                                   capture_output=True, text=True, timeout=60, check=False)
                results[job["name"]] = {"rc": p.returncode, "stdout": p.stdout, "stderr": p.stderr}
            except subprocess.TimeoutExpired as e:
                results[job["name"]] = {"rc": -1, "stdout": str(e.stdout), "stderr": "timeout"}
            finally:
                subprocess.run([*base, "delete", "-f", job["id"]], capture_output=True, timeout=30, check=False)
    finally:
        for mount_point in _cgroup_mounts():
            _remove_cgroup_tree(os.path.join(mount_point, jobs["cgroup_parent"].lstrip("/")))
        for target in mounted:
            _release_hierarchy(target, os.path.basename(target))
        Path(results_path).write_text(json.dumps(results))
    return 0


# ---------------------------------------------------------------- the tests (run on the host side)


def _make_rootfs(root: Path) -> None:
    for d in ("bin", "proc", "dev", "sys", "etc", "tmp", "sbin"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, root / "bin/busybox")
    for applet in APPLETS:
        os.symlink("busybox", root / "bin" / applet)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/tmp:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\nwheel:x:10:root\napp:x:1000:\n")


JOBS: dict[str, dict] = {
    "echo": {"args": ["/bin/echo", "hi"]},
    "status": {"args": ["/bin/cat", "/proc/self/status"]},
    "unshare_filtered": {"args": ["/bin/unshare", "-U", "/bin/true"]},
    "unshare_unconfined": {"args": ["/bin/unshare", "-U", "/bin/true"],
                           "host_config": {"SecurityOpt": ["seccomp=unconfined"]}},
    "limits": {
        "args": ["/bin/sh", "-c", (
            "id -u; id -G; ulimit -n; ulimit -Hn; tr '\\0' ' ' < /proc/1/cmdline; echo; "
            "touch /newfile 2>/dev/null && echo rw || echo ro; grep NoNewPrivs /proc/self/status; "
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; cat /sys/fs/cgroup/pids/pids.max; hostname")],
        "config": {"User": "app", "Hostname": "limited"},
        "host_config": {"Memory": 64 << 20, "PidsLimit": 50, "ReadonlyRootfs": True, "Init": True,
                        "NanoCpus": 500_000_000, "SecurityOpt": ["no-new-privileges"],
                        "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]},
    },
    "privileged": {"args": ["/bin/sh", "-c", "cat /proc/self/status; ls /dev"],
                   "host_config": {"Privileged": True}},
    "runc_echo": {"args": ["/bin/echo", "hi from runc"], "runtime": "runc"},
}
JOBS["runc_limits"] = {**JOBS["limits"], "runtime": "runc"}
JOBS["runc_status"] = {**JOBS["status"], "runtime": "runc"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict]:
    if os.geteuid() != 0:
        pytest.skip("needs root to run crun")
    for tool in (CRUN, BUSYBOX, shutil.which("unshare") or "/nonexistent"):
        if not os.path.exists(tool):
            pytest.skip(f"{tool} is not installed")
    work = tmp_path_factory.mktemp("crun")
    rootfs = work / "rootfs"
    _make_rootfs(rootfs)
    tag = uuid.uuid4().hex[:8]
    cgroup_parent = f"/berth-unittest-{tag}"
    jobs = []
    for name, job in JOBS.items():
        runtime = job.get("runtime", "crun")
        if runtime == "runc" and not os.path.exists(RUNC):
            continue
        cid = f"berth-unit-{tag}-{name.replace('_', '-')}"
        spec = build_spec(SpecRequest(
            container_id=cid, rootfs=str(rootfs), args=job["args"], config=job.get("config", {}),
            host_config=job.get("host_config", {}), netns=None, extra_mounts=[],
            cgroups_path=f"{cgroup_parent}/{cid}",
            init_binary=CATATONIT if os.path.exists(CATATONIT) else None, seccomp_profile=None))
        bundle = work / "bundles" / name
        bundle.mkdir(parents=True)
        (bundle / "config.json").write_text(json.dumps(spec))
        jobs.append({"name": name, "id": cid, "bundle": str(bundle), "runtime": runtime})
    state_root = work / "state"
    state_root.mkdir()
    (work / "jobs.json").write_text(json.dumps({"jobs": jobs, "state_root": str(state_root),
                                                "cgroup_parent": cgroup_parent}))
    env = dict(os.environ, PYTHONPATH=str(SRC))
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, str(HERE),
                        str(work / "jobs.json"), str(work / "results.json")],
                       capture_output=True, text=True, timeout=300, env=env, check=False)
    assert p.returncode == 0, p.stderr
    return json.loads((work / "results.json").read_text())


def _status(text: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def ok(result: dict) -> dict:
    assert result["rc"] == 0, result["stderr"]
    return result


def test_echo_prints_hi(runs):
    assert ok(runs["echo"])["stdout"] == "hi\n"


def test_default_container_has_dockers_bounding_set_and_seccomp(runs):
    status = _status(ok(runs["status"])["stdout"])
    assert int(status["CapBnd"], 16) == capabilities.caps_mask(list(capabilities.DEFAULT_CAPS)) == 0xA80425FB
    assert int(status["CapEff"], 16) == 0xA80425FB
    assert int(status["CapInh"], 16) == 0 and int(status["CapAmb"], 16) == 0
    assert status["Seccomp"] == "2"
    assert status["NoNewPrivs"] == "0"


def test_seccomp_blocks_unshare_without_sys_admin(runs):
    assert runs["unshare_filtered"]["rc"] != 0
    assert "Operation not permitted" in runs["unshare_filtered"]["stderr"]


def test_unconfined_seccomp_lets_unshare_through(runs):
    ok(runs["unshare_unconfined"])


def test_user_limits_readonly_rootfs_and_init_apply(runs):
    out = ok(runs["limits"])["stdout"].splitlines()
    assert out[0] == "1000"
    assert out[1] == "1000"
    assert out[2:4] == ["1024", "2048"]
    assert out[4].split()[:2] == ["/sbin/docker-init", "--"]
    assert out[5] == "ro"
    assert out[6].split() == ["NoNewPrivs:", "1"]
    assert out[7] == str(64 << 20)
    assert out[8] == "50"
    assert out[9] == "limited"


def test_privileged_container_gets_every_available_cap_and_host_devices(runs):
    out = ok(runs["privileged"])["stdout"]
    status = _status(out)
    assert int(status["CapBnd"], 16) == capabilities.caps_mask(list(capabilities.available_caps()))
    assert status["Seccomp"] == "0"
    assert "null" in out.split()


def test_runc_accepts_the_same_spec(runs):
    if "runc_echo" not in runs:
        pytest.skip("runc is not installed")
    assert ok(runs["runc_echo"])["stdout"] == "hi from runc\n"
    assert ok(runs["runc_limits"])["stdout"] == runs["limits"]["stdout"]
    status = _status(ok(runs["runc_status"])["stdout"])
    assert int(status["CapBnd"], 16) == 0xA80425FB and status["Seccomp"] == "2"


def test_crun_cgroup_fix_left_nothing_on_the_host(runs):
    mounts = [m.mount_point for m in host.read_mountinfo()]
    assert not any("berth-cgroup-stash" in m for m in mounts)
    for m in _cgroup_mounts():
        assert not any(d.startswith("berth-unittest-") for d in os.listdir(m)), m


if __name__ == "__main__":
    sys.exit(helper_main(sys.argv[1], sys.argv[2]))
