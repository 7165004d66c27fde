"""`berth system check`'s human report (cli/cmd_check.py render) and the checker's
mountinfo reading (engine/check.py): pure functions."""

from __future__ import annotations

from berth.cli.cmd_check import render
from berth.engine.check import Finding, Report


def _report(*findings: Finding) -> dict:
    return Report(list(findings), {"containers": 2, "mounts": 3}).to_doc()


def test_clean_report_says_what_was_checked():
    out = render(_report(), False)
    assert out == "no inconsistencies (checked 2 containers, 3 mounts)\n"


def test_each_finding_says_what_was_or_would_be_repaired():
    leftover = Finding("mount", "/d/overlay/containers/x/merged", "rootfs mount of no container", "unmount it (lazy)")
    lost = Finding("image", "0123456789ab", "config blob is missing (lost)")
    doc = _report(leftover, lost)
    assert doc["Remaining"] == 2 and doc["Repaired"] == 0
    out = render(doc, False).splitlines()
    assert out[0].endswith("-- would unmount it (lazy) (run with --repair)")
    assert out[1].endswith("-- reported only: needs a person")
    assert out[-1].startswith("2 inconsistencies, 0 repaired, 2 remaining")
    leftover.repaired = True
    failed = Finding("cgroup", "/sys/fs/cgroup/pids/berth/x", "empty cgroup", "remove it", error="busy")
    doc = _report(leftover, failed)
    assert doc["Repaired"] == 1 and doc["Remaining"] == 1
    lines = render(doc, True).splitlines()
    assert lines[0].endswith("-- repaired: unmount it (lazy)") and lines[1].endswith("-- repair failed: busy")


def test_finding_documents_never_carry_the_repair_callable():
    f = Finding("volume", "v", "p", "adopt it as a volume", fix=lambda: None)
    assert set(f.to_doc()) == {"Kind", "Subject", "Problem", "Repair", "Repaired", "Error"}


def test_a_plain_directory_is_not_taken_for_a_cgroup(tmp_path):
    """What crun leaves when the hierarchy is not mounted: a directory with a cgroup.procs
    *file* it wrote; the kernel's cgroups have `tasks` (v1) or `cgroup.controllers` (v2)."""
    from berth.engine.check import _is_cgroup

    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "cgroup.procs").write_text("16\n")
    assert not _is_cgroup(str(fake))
    (fake / "tasks").write_text("")
    assert _is_cgroup(str(fake))
