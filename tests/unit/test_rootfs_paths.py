"""Container paths resolved inside the container's root, and the tar both ways,
on a plain directory standing for a rootfs (no daemon needed)."""

from __future__ import annotations

import errno
import io
import os
import tarfile

import pytest

from berth.engine import rootfs_paths as rp
from berth.engine.archive_extract import Extractor
from berth.errors import InvalidParameter
from berth.images.tree_tar import EMPTY_TAR_DIGEST, TreeTar


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "rootfs"
    (r / "etc").mkdir(parents=True)
    (r / "etc" / "passwd").write_text("root:x:0:0\n")
    (r / "usr" / "bin").mkdir(parents=True)
    os.symlink("usr/bin", r / "bin")
    os.symlink("/", r / "escape")
    os.symlink("../../../../../../..", r / "climb")
    os.symlink(str(tmp_path / "outside"), r / "direct")
    os.symlink("loop2", r / "loop1")
    os.symlink("loop1", r / "loop2")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("host\n")
    fd = os.open(r, rp.PATH_DIR)
    yield r, fd
    os.close(fd)


def test_dotdot_stops_at_the_root(root):
    _r, fd = root
    assert rp.resolve(fd, "../../../etc/passwd") == ["etc", "passwd"]
    assert rp.resolve(fd, "/etc/../../../etc/passwd") == ["etc", "passwd"]


def test_symlinks_resolve_inside_the_root(root):
    _r, fd = root
    assert rp.resolve(fd, "/escape/etc/passwd") == ["etc", "passwd"]
    assert rp.resolve(fd, "/climb/etc") == ["etc"]
    assert rp.resolve(fd, "/bin/sh") == ["usr", "bin", "sh"]
    outside = str(root[0].parent / "outside")
    # an absolute link to a host path is that path inside the container, where it does not exist
    assert rp.resolve(fd, "/direct/secret") == [*rp.split(outside), "secret"]
    assert rp.lstat(fd, rp.resolve(fd, "/direct/secret")) is None


def test_the_last_link_is_followed_only_when_asked(root):
    _r, fd = root
    assert rp.resolve(fd, "/escape", follow_last=False) == ["escape"]
    assert rp.resolve(fd, "/escape", follow_last=True) == []


def test_loops_and_files_used_as_directories_fail(root):
    _r, fd = root
    with pytest.raises(OSError) as e:
        rp.resolve(fd, "/loop1/x")
    assert e.value.errno == errno.ELOOP
    with pytest.raises(NotADirectoryError):
        rp.resolve(fd, "/etc/passwd/x")


def test_open_dir_refuses_a_symlink_on_the_way(root):
    _r, fd = root
    with pytest.raises(NotADirectoryError):
        rp.open_dir(fd, ["escape", "etc"])
    made = rp.open_dir(fd, ["new", "deep"], create=True)
    os.close(made)
    assert (root[0] / "new" / "deep").is_dir()


def _tar(entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, value in entries:
            info = tarfile.TarInfo(name)
            info.uid, info.gid = os.getuid(), os.getgid()
            if kind == "file":
                info.size = len(value)
                tf.addfile(info, io.BytesIO(value))
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, value
                tf.addfile(info)
            else:
                info.type, info.linkname = tarfile.LNKTYPE, value
                tf.addfile(info)
    return buf.getvalue()


def _extract(fd: int, dest: str, data: bytes) -> None:
    Extractor(fd, rp.resolve(fd, dest), (os.getuid(), os.getgid()), False).extract(io.BytesIO(data))


def test_extraction_through_planted_links_stays_inside(root):
    r, fd = root
    outside = str(r.parent / "outside")
    _extract(fd, "/", _tar([("evil", "sym", outside), ("evil/pwned", "file", b"x"),
                            ("escape/etc/hosts", "file", b"127.0.0.1\n"),
                            ("climb/etc/motd", "file", b"hi\n")]))
    assert sorted(os.listdir(outside)) == ["secret"]
    assert (r / outside.lstrip("/") / "pwned").read_bytes() == b"x"
    assert (r / "etc" / "hosts").read_text() == "127.0.0.1\n"
    assert (r / "etc" / "motd").read_text() == "hi\n"


def test_extraction_refuses_names_links_and_hardlinks_that_leave_the_destination(root):
    _r, fd = root
    with pytest.raises(InvalidParameter, match="is outside of"):
        _extract(fd, "/etc", _tar([("../../x", "file", b"x")]))
    with pytest.raises(InvalidParameter, match="invalid symlink"):
        _extract(fd, "/etc", _tar([("up", "sym", "../../x")]))
    with pytest.raises(InvalidParameter, match="invalid hardlink"):
        _extract(fd, "/etc", _tar([("hl", "link", "../usr")]))


def test_extraction_replaces_an_existing_symlink_instead_of_writing_through_it(root):
    r, fd = root
    os.symlink(str(r.parent / "outside" / "secret"), r / "etc" / "target")
    _extract(fd, "/etc", _tar([("target", "file", b"replaced\n")]))
    assert (r.parent / "outside" / "secret").read_text() == "host\n"
    assert not os.path.islink(r / "etc" / "target")
    assert (r / "etc" / "target").read_text() == "replaced\n"


def test_tree_tar_writes_links_as_links_and_hardlinks_once(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_bytes(b"A" * 1000)
    os.link(src / "a", src / "b")
    os.symlink("/etc/passwd", src / "link")
    out = io.BytesIO()
    fd = os.open(src, rp.PATH_DIR)
    try:
        tar = TreeTar(out)
        tar.add_tree(fd, None, "top")
        tar.close()
    finally:
        os.close(fd)
    data = out.getvalue()
    assert data.endswith(b"\0" * 1024) and len(data) % 512 == 0
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = {m.name: m for m in tf.getmembers()}
        assert members["top"].isdir()
        assert members["top/a"].isreg() and tf.extractfile("top/a").read() == b"A" * 1000
        assert members["top/b"].islnk() and members["top/b"].linkname == "top/a"
        assert members["top/link"].issym() and members["top/link"].linkname == "/etc/passwd"


def test_an_empty_tree_is_docker_s_empty_layer(tmp_path):
    import hashlib

    out = io.BytesIO()
    tar = TreeTar(out)
    tar.close()
    assert "sha256:" + hashlib.sha256(out.getvalue()).hexdigest() == EMPTY_TAR_DIGEST
