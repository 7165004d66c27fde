import hashlib
import io
import os
import stat
import tarfile

import pytest

from berth.errors import InvalidParameter, System
from berth.images.bootstrap import BootstrapImage, busybox, debian, write_rootfs_tar

HAVE_BUSYBOX = os.path.isfile(busybox.BUSYBOX_PATH) and busybox.is_static_elf(busybox.BUSYBOX_PATH)
needs_busybox = pytest.mark.skipif(not HAVE_BUSYBOX, reason="busybox-static is not installed")


def busybox_tar() -> tuple[bytes, BootstrapImage, list[str]]:
    out, lines = io.BytesIO(), []
    image = write_rootfs_tar("busybox", out, lines.append)
    return out.getvalue(), image, lines


@needs_busybox
def test_busybox_rootfs_has_the_official_shape():
    data, image, lines = busybox_tar()
    assert image == BootstrapImage("busybox", "latest", ['CMD ["sh"]'])
    assert lines and "applets" in lines[0]
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = {m.name: m for m in tf.getmembers()}
        passwd = tf.extractfile(members["etc/passwd"]).read().decode()
    bb = members["bin/busybox"]
    assert bb.isreg() and bb.mode == 0o755 and bb.size == os.path.getsize(busybox.BUSYBOX_PATH)
    for applet in ("sh", "ls", "cat", "wget", "ping"):
        link = members[f"bin/{applet}"]
        assert link.islnk() and link.linkname == "bin/busybox"
    assert passwd.startswith("root:x:0:0:root:/root:/bin/sh\n")
    assert "nobody:x:65534:65534:nobody:/home:/bin/false" in passwd
    assert members["tmp"].mode == 0o1777
    assert members["root"].mode == 0o700
    for d in ("dev", "proc", "sys", "home", "var/spool/mail", "var/www", "etc"):
        assert members[d].isdir()
    assert {m.uid for m in members.values()} == {0} and {m.gid for m in members.values()} == {0}
    assert len({m.mtime for m in members.values()}) == 1
    assert "etc/group" in members and "etc/shadow" in members


@needs_busybox
def test_two_busybox_bootstraps_are_identical():
    first, _, _ = busybox_tar()
    second, _, _ = busybox_tar()
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()


@needs_busybox
def test_source_date_epoch_sets_every_mtime(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234567890")
    data, _, _ = busybox_tar()
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert {m.mtime for m in tf.getmembers()} == {1234567890}


@needs_busybox
@pytest.mark.skipif(os.geteuid() != 0, reason="applying layers needs root")
def test_busybox_rootfs_applies_as_a_layer(tmp_path):
    from berth.images.layer_tar import apply_layer

    data, _, _ = busybox_tar()
    dest = tmp_path / "layer"
    dest.mkdir()
    result = apply_layer(io.BytesIO(data), str(dest))
    assert result.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert os.stat(dest / "bin/sh").st_ino == os.stat(dest / "bin/busybox").st_ino
    assert stat.S_IMODE(os.stat(dest / "tmp").st_mode) == 0o1777


def test_busybox_missing_binary_tells_what_to_install(tmp_path):
    with pytest.raises(System) as err:
        busybox.write_busybox_rootfs(io.BytesIO(), print, binary=str(tmp_path / "busybox"))
    assert "apt-get install busybox-static" in err.value.message


def test_dynamic_busybox_is_refused(tmp_path):
    # any dynamically linked executable stands in for Debian's non-static busybox
    dynamic = "/bin/ls" if os.path.exists("/bin/ls") else "/usr/bin/env"
    assert not busybox.is_static_elf(dynamic)
    with pytest.raises(System) as err:
        busybox.write_busybox_rootfs(io.BytesIO(), print, binary=dynamic)
    assert "not a statically linked busybox" in err.value.message
    assert "apt-get install busybox-static" in err.value.message


def test_non_elf_is_not_static(tmp_path):
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    assert not busybox.is_static_elf(str(script))


@pytest.mark.parametrize("name", ["alpine", "busybox:1.36", "ubuntu:22.04", ""])
def test_unknown_images_list_what_is_supported(name):
    with pytest.raises(InvalidParameter) as err:
        write_rootfs_tar(name, io.BytesIO(), print)
    assert "busybox" in err.value.message and "debian" in err.value.message


def test_unknown_debian_suite_lists_the_known_ones():
    with pytest.raises(InvalidParameter) as err:
        write_rootfs_tar("debian:potato", io.BytesIO(), print)
    assert "unknown suite" in err.value.message and "bookworm" in err.value.message


@pytest.mark.parametrize(
    "tag, suite, slim",
    [("bookworm", "bookworm", False), ("12", "bookworm", False), ("bookworm-slim", "bookworm", True),
     ("11-slim", "bullseye", True), ("trixie", "trixie", False), ("sid", "sid", False)],
)
def test_debian_tags_map_to_suites(tag, suite, slim):
    assert debian.resolve(tag) == debian.DebianVariant(suite, slim)


def test_debian_latest_follows_the_host():
    assert debian.resolve("latest").suite in {"bullseye", "bookworm", "trixie", "forky", "sid"}


def test_host_mirrors_read_one_line_and_deb822_sources(tmp_path):
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list").write_text("# deb http://ignored/debian bookworm main\n")
    (apt / "sources.list.d" / "other.list").write_text("deb [arch=amd64] https://packages.example.com/apt stable main\n")
    (apt / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example.org/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example.org/debian-security\nSuites: bookworm-security\nComponents: main\n"
    )
    (apt / "sources.list.d" / "off.sources").write_text(
        "Enabled: no\nTypes: deb\nURIs: http://disabled.example/debian\nSuites: sid\n"
    )
    assert debian.host_mirrors(str(apt)) == ("http://mirror.example.org/debian", "http://mirror.example.org/debian-security")


def test_host_mirrors_default_to_deb_debian_org(tmp_path):
    assert debian.host_mirrors(str(tmp_path)) == ("http://deb.debian.org/debian", "http://deb.debian.org/debian-security")


def test_sources_for_stable_and_unstable():
    assert debian.sources_for("bookworm", "http://m/debian", "http://m/debian-security") == [
        "deb http://m/debian bookworm main",
        "deb http://m/debian bookworm-updates main",
        "deb http://m/debian-security bookworm-security main",
    ]
    assert debian.sources_for("sid", "http://m/debian", "http://s") == ["deb http://m/debian sid main"]


def test_mmdebstrap_command_is_minbase_tar_to_stdout():
    cmd = debian.mmdebstrap_command(debian.DebianVariant("bookworm", slim=True), "http://m/debian", "http://m/sec")
    assert cmd[0] == "mmdebstrap"
    assert "--variant=minbase" in cmd and "--format=tar" in cmd and "--skip=output/dev" in cmd
    assert cmd[cmd.index("bookworm") + 1] == "-"
    assert any(a.startswith("--customize-hook=") and "docker-clean" in a for a in cmd)
    assert any(a.startswith("--dpkgopt=path-exclude=/usr/share/doc/") for a in cmd)
    plain = debian.mmdebstrap_command(debian.DebianVariant("bookworm"), "http://m/debian", "http://m/sec")
    assert not any(a.startswith("--dpkgopt") for a in plain)


def _fake_mmdebstrap(tmp_path, body: str) -> str:
    script = tmp_path / "mmdebstrap"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


def test_debian_relays_status_lines_and_streams_the_tar(tmp_path):
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        ti = tarfile.TarInfo("./etc/debian_version")
        ti.size = 3
        tf.addfile(ti, io.BytesIO(b"12\n"))
    (tmp_path / "payload.tar").write_bytes(inner.getvalue())
    fake = _fake_mmdebstrap(
        tmp_path,
        'echo "I: downloading packages with apt..." >&2\n'
        'printf "I: extracting archives...\\r" >&2\n'
        'echo "dpkg noise" >&2\n'
        f'cat "{tmp_path}/payload.tar"\n',
    )
    out, lines = io.BytesIO(), []
    debian.write_debian_rootfs(debian.DebianVariant("bookworm"), out, lines.append, binary=fake,
                               mirrors=("http://m/debian", "http://m/sec"))
    assert "I: downloading packages with apt..." in lines and "I: extracting archives..." in lines
    assert "dpkg noise" not in lines
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        names = tf.getnames()
    assert names[0] == "./dev" and "./etc/debian_version" in names


def test_debian_failure_reports_the_last_stderr_lines(tmp_path):
    fake = _fake_mmdebstrap(tmp_path, 'echo "I: running apt-get update..." >&2\necho "E: apt-get update failed" >&2\nexit 1\n')
    with pytest.raises(System) as err:
        debian.write_debian_rootfs(debian.DebianVariant("bookworm"), io.BytesIO(), lambda _: None, binary=fake,
                                   mirrors=("http://m/debian", "http://m/sec"))
    assert "exit status 1" in err.value.message
    assert "E: apt-get update failed" in err.value.message


def test_debian_without_mmdebstrap_says_how_to_install(tmp_path):
    with pytest.raises(System) as err:
        debian.write_debian_rootfs(debian.DebianVariant("bookworm"), io.BytesIO(), print,
                                   binary=str(tmp_path / "nope"))
    assert "apt-get install mmdebstrap" in err.value.message


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("BERTH_SLOW_TESTS") != "1", reason="set BERTH_SLOW_TESTS=1 (needs the Debian mirror)")
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_debian_bootstrap_end_to_end(tmp_path):
    from berth.images.layer_tar import apply_layer

    tar_path = tmp_path / "rootfs.tar"
    lines: list[str] = []
    with open(tar_path, "wb") as out:
        image = write_rootfs_tar("debian:bookworm", out, lines.append)
    assert image == BootstrapImage("debian", "bookworm", ['CMD ["bash"]'])
    assert any("I: success" in line for line in lines)
    dest = tmp_path / "layer"
    dest.mkdir()
    with open(tar_path, "rb") as f:
        result = apply_layer(f, str(dest))
    assert result.size > 50_000_000
    for path in ("usr/bin/bash", "usr/bin/apt-get", "etc/debian_version", "usr/sbin/policy-rc.d",
                 "etc/apt/apt.conf.d/docker-clean"):
        assert (dest / path).exists(), path
    assert os.readlink(dest / "bin") == "usr/bin"
    assert (dest / "dev").is_dir() and not os.listdir(dest / "dev")
    assert not [p for p in os.listdir(dest / "var/lib/apt/lists") if p not in ("lock", "partial")]
    assert not list((dest / "var/cache/apt").glob("*.bin"))
    assert not (dest / "etc/resolv.conf").exists()
