"""apply_layer against crafted, often hostile, layer tars.

Needs root: it chowns, makes device nodes and sets trusted.* xattrs, as the
daemon does.
"""

import bz2
import hashlib
import io
import lzma
import os
import stat
import tarfile

import pytest
import zstandard
from isal import igzip

from berth.errors import InvalidParameter
from berth.images.layer_tar import apply_layer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="applying layers needs root")

EMPTY_LAYER_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
MTIME = 1_600_000_000


def entry(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0, linkname="", mtime=MTIME, pax=None,
          devmajor=0, devminor=0):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.mtime = mtime
    ti.linkname = linkname
    ti.devmajor, ti.devminor = devmajor, devminor
    if pax:
        ti.pax_headers = dict(pax)
    ti.size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    return ti, data


def make_tar(*entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in entries:
            tf.addfile(ti, io.BytesIO(data) if ti.size else None)
    return buf.getvalue()


@pytest.fixture
def layer(tmp_path):
    """(dest, outside): the layer dir and a sibling the tar must never reach."""
    dest = tmp_path / "layer"
    dest.mkdir(mode=0o755)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("host secret\n")
    return dest, outside


def apply_bytes(data: bytes, dest, warnings=None):
    return apply_layer(io.BytesIO(data), str(dest), on_warning=(warnings.append if warnings is not None else None))


def test_regular_files_dirs_links_and_metadata_are_applied(layer):
    dest, _ = layer
    data = make_tar(
        entry("etc/", tarfile.DIRTYPE, mode=0o755, mtime=1000),
        entry("etc/hosts", data=b"127.0.0.1 localhost\n", mode=0o644, uid=1000, gid=1001, mtime=2000),
        entry("usr/bin/sudo", data=b"#!/bin/sh\n", mode=0o4755),
        entry("srv/shared", tarfile.DIRTYPE, mode=0o2775, uid=5, gid=6, mtime=3000),
        entry("etc/localtime", tarfile.SYMTYPE, linkname="/usr/share/zoneinfo/UTC", mtime=4000, uid=7, gid=8),
        entry("etc/hosts.bak", tarfile.LNKTYPE, linkname="etc/hosts", mode=0o644, uid=1000, gid=1001, mtime=2000),
        entry("run/fifo", tarfile.FIFOTYPE, mode=0o620),
    )
    result = apply_bytes(data, dest)

    hosts = dest / "etc/hosts"
    assert hosts.read_bytes() == b"127.0.0.1 localhost\n"
    st = hosts.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), int(st.st_mtime)) == (1000, 1001, 0o644, 2000)
    assert stat.S_IMODE((dest / "usr/bin/sudo").stat().st_mode) == 0o4755
    shared = (dest / "srv/shared").stat()
    assert (stat.S_IMODE(shared.st_mode), shared.st_uid, shared.st_gid) == (0o2775, 5, 6)
    assert int(shared.st_mtime) == 3000
    assert int((dest / "etc").stat().st_mtime) == 1000  # set after its content was written
    link = dest / "etc/localtime"
    assert os.readlink(link) == "/usr/share/zoneinfo/UTC"
    lst = os.lstat(link)
    assert (lst.st_uid, lst.st_gid, int(lst.st_mtime)) == (7, 8, 4000)
    assert os.stat(dest / "etc/hosts.bak").st_ino == st.st_ino
    assert stat.S_ISFIFO(os.lstat(dest / "run/fifo").st_mode)
    assert stat.S_IMODE(os.lstat(dest / "run/fifo").st_mode) == 0o620
    # implicit parents are root-owned 0755, like docker's
    assert stat.S_IMODE((dest / "usr").stat().st_mode) == 0o755
    assert result.size == len(b"127.0.0.1 localhost\n") + len(b"#!/bin/sh\n")


def test_diff_id_is_sha256_of_the_whole_uncompressed_stream(layer):
    dest, _ = layer
    data = make_tar(entry("a", data=b"x" * 5000))
    data += b"\0" * 10240 + b"trailing garbage after the archive"
    result = apply_bytes(data, dest)
    assert result.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    "compress",
    [
        lambda d: igzip.compress(d),
        lambda d: igzip.compress(d[:3000]) + igzip.compress(d[3000:]),  # multi-member gzip
        lambda d: zstandard.ZstdCompressor().compress(d),
        lambda d: bz2.compress(d),
        lambda d: lzma.compress(d),
    ],
    ids=["gzip", "gzip-multimember", "zstd", "bzip2", "xz"],
)
def test_compressed_layers_have_the_uncompressed_diff_id(layer, compress):
    dest, _ = layer
    data = make_tar(entry("dir/", tarfile.DIRTYPE, mode=0o755), entry("dir/file", data=os.urandom(200_000)))
    result = apply_bytes(compress(data), dest)
    assert result.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert (dest / "dir/file").stat().st_size == 200_000
    assert result.size == 200_000


def test_empty_tar_has_dockers_empty_layer_diff_id(layer):
    dest, _ = layer
    assert apply_bytes(b"\0" * 1024, dest).diff_id == EMPTY_LAYER_DIFF_ID
    assert list(dest.iterdir()) == []


def test_zero_byte_stream_is_an_empty_layer(layer):
    dest, _ = layer
    result = apply_bytes(b"", dest)
    assert result.diff_id == "sha256:" + hashlib.sha256(b"").hexdigest()
    assert result.size == 0


@pytest.mark.parametrize("name", ["../x", "../../x", "a/../../x", "./../x"])
def test_dotdot_escape_is_refused_naming_the_entry(layer, name):
    dest, _ = layer
    data = make_tar(entry("ok", data=b"1"), entry(name, data=b"pwned"))
    with pytest.raises(InvalidParameter) as err:
        apply_bytes(data, dest)
    assert name in err.value.message
    assert not (dest.parent / "x").exists()
    assert not (dest.parent.parent / "x").exists()


def test_absolute_and_rooted_dotdot_names_are_contained(layer):
    dest, _ = layer
    data = make_tar(entry("/etc/x", data=b"abs"), entry("/../../y", data=b"rooted"), entry("a/../b", data=b"clean"))
    apply_bytes(data, dest)
    assert (dest / "etc/x").read_bytes() == b"abs"
    assert (dest / "y").read_bytes() == b"rooted"
    assert (dest / "b").read_bytes() == b"clean"
    assert not (dest / "a").exists()


@pytest.mark.parametrize("target_kind", ["absolute", "relative"])
def test_write_through_a_planted_symlink_is_refused(layer, target_kind):
    dest, outside = layer
    target = str(outside) if target_kind == "absolute" else "../outside"
    data = make_tar(entry("a", tarfile.SYMTYPE, linkname=target), entry("a/passwd", data=b"pwned\n"))
    with pytest.raises(InvalidParameter) as err:
        apply_bytes(data, dest)
    assert "a/passwd" in err.value.message
    assert (outside / "passwd").read_text() == "host secret\n"
    assert sorted(p.name for p in outside.iterdir()) == ["passwd"]


def test_deep_write_through_symlink_is_refused(layer):
    dest, outside = layer
    data = make_tar(
        entry("x/", tarfile.DIRTYPE, mode=0o755),
        entry("x/y", tarfile.SYMTYPE, linkname=str(outside)),
        entry("x/y/z/new", data=b"pwned"),
    )
    with pytest.raises(InvalidParameter):
        apply_bytes(data, dest)
    assert sorted(p.name for p in outside.iterdir()) == ["passwd"]


def test_file_entry_replaces_a_symlink_instead_of_following_it(layer):
    dest, outside = layer
    data = make_tar(
        entry("passwd", tarfile.SYMTYPE, linkname=str(outside / "passwd")),
        entry("passwd", data=b"layer content\n", mode=0o600),
    )
    apply_bytes(data, dest)
    assert (outside / "passwd").read_text() == "host secret\n"
    assert not os.path.islink(dest / "passwd")
    assert (dest / "passwd").read_bytes() == b"layer content\n"


def test_directory_entry_replaces_a_symlink_instead_of_following_it(layer):
    dest, outside = layer
    data = make_tar(
        entry("d", tarfile.SYMTYPE, linkname=str(outside)),
        entry("d/", tarfile.DIRTYPE, mode=0o700),
        entry("d/f", data=b"inside"),
    )
    apply_bytes(data, dest)
    assert (dest / "d").is_dir() and not (dest / "d").is_symlink()
    assert (dest / "d/f").read_bytes() == b"inside"
    assert sorted(p.name for p in outside.iterdir()) == ["passwd"]
    assert stat.S_IMODE(outside.stat().st_mode) == 0o755


def test_symlink_targets_are_stored_verbatim_never_resolved(layer):
    dest, _ = layer
    data = make_tar(
        entry("abs", tarfile.SYMTYPE, linkname="/etc/shadow"),
        entry("up", tarfile.SYMTYPE, linkname="../../../../etc"),
    )
    apply_bytes(data, dest)
    assert os.readlink(dest / "abs") == "/etc/shadow"
    assert os.readlink(dest / "up") == "../../../../etc"


@pytest.mark.parametrize("linkname", ["../outside/passwd", "../../etc/passwd"])
def test_hardlink_escaping_the_layer_is_refused(layer, linkname):
    dest, outside = layer
    data = make_tar(entry("evil", tarfile.LNKTYPE, linkname=linkname))
    with pytest.raises(InvalidParameter) as err:
        apply_bytes(data, dest)
    assert "evil" in err.value.message
    assert os.stat(outside / "passwd").st_nlink == 1


def test_absolute_hardlink_to_a_host_file_is_not_linked(layer):
    dest, _ = layer
    host_nlink = os.stat("/etc/passwd").st_nlink
    data = make_tar(entry("evil", tarfile.LNKTYPE, linkname="/etc/passwd"))
    with pytest.raises(InvalidParameter) as err:
        apply_bytes(data, dest)
    assert "not in the layer" in err.value.message
    assert os.stat("/etc/passwd").st_nlink == host_nlink


def test_hardlink_through_a_planted_symlink_is_refused(layer):
    dest, outside = layer
    data = make_tar(
        entry("d", tarfile.SYMTYPE, linkname=str(outside)),
        entry("evil", tarfile.LNKTYPE, linkname="d/passwd"),
    )
    with pytest.raises(InvalidParameter):
        apply_bytes(data, dest)
    assert os.stat(outside / "passwd").st_nlink == 1


def test_hardlink_to_a_symlink_links_the_symlink_itself(layer):
    dest, outside = layer
    data = make_tar(
        entry("s", tarfile.SYMTYPE, linkname=str(outside / "passwd")),
        entry("h", tarfile.LNKTYPE, linkname="s"),
    )
    apply_bytes(data, dest)
    assert os.path.islink(dest / "h")
    assert os.stat(outside / "passwd").st_nlink == 1


def test_device_nodes_are_skipped_with_a_warning_but_whiteout_devices_kept(layer):
    dest, _ = layer
    warnings: list[str] = []
    data = make_tar(
        entry("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
        entry("dev/sda", tarfile.BLKTYPE, mode=0o660, devmajor=8, devminor=0),
        entry("gone", tarfile.CHRTYPE, mode=0, devmajor=0, devminor=0),
    )
    apply_bytes(data, dest, warnings)
    assert not (dest / "dev/null").exists()
    assert not (dest / "dev/sda").exists()
    assert any("dev/null" in w for w in warnings) and any("dev/sda" in w for w in warnings)
    st = os.lstat(dest / "gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)


def test_aufs_whiteouts_become_overlay_whiteouts(layer):
    dest, _ = layer
    data = make_tar(
        entry("etc/", tarfile.DIRTYPE, mode=0o755),
        entry("etc/.wh.motd", uid=0),
        entry("var/cache/", tarfile.DIRTYPE, mode=0o755),
        entry("var/cache/.wh..wh..opq"),
        entry("var/cache/new", data=b"n"),
        entry(".wh..wh.plnk/", tarfile.DIRTYPE),
        entry(".wh..wh.plnk/123.456", data=b"aufs hardlink store"),
        entry(".wh..wh.aufs", data=b"meta"),
        entry("usr/linked", tarfile.LNKTYPE, linkname="/.wh..wh.plnk/123.456"),
        entry("opq-first/.wh..wh..opq"),
        entry("opq-first/", tarfile.DIRTYPE, mode=0o750),
    )
    apply_bytes(data, dest)
    st = os.lstat(dest / "etc/motd")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert not (dest / "etc/.wh.motd").exists()
    assert os.getxattr(dest / "var/cache", "trusted.overlay.opaque") == b"y"
    assert not (dest / "var/cache/.wh..wh..opq").exists()
    assert (dest / "var/cache/new").read_bytes() == b"n"
    assert not (dest / ".wh..wh.plnk").exists()
    assert not (dest / ".wh..wh.aufs").exists()
    assert (dest / "usr/linked").read_bytes() == b"aufs hardlink store"
    assert os.getxattr(dest / "opq-first", "trusted.overlay.opaque") == b"y"
    assert stat.S_IMODE((dest / "opq-first").stat().st_mode) == 0o750


def test_whiteout_replaces_an_entry_of_the_same_layer(layer):
    dest, _ = layer
    data = make_tar(entry("d/", tarfile.DIRTYPE), entry("d/f", data=b"1"), entry(".wh.d"))
    apply_bytes(data, dest)
    assert stat.S_ISCHR(os.lstat(dest / "d").st_mode)


def test_xattrs_from_pax_headers_are_applied(layer):
    dest, _ = layer
    cap = bytes.fromhex("0100000200200000000000000000000000000000")  # cap_net_raw+ep, binary
    data = make_tar(
        entry("bin/ping", data=b"\x7fELF", mode=0o755,
              pax={"SCHILY.xattr.security.capability": cap.decode("utf-8", "surrogateescape"),
                   "SCHILY.xattr.user.note": "hello"}),
        entry("d/", tarfile.DIRTYPE, pax={"SCHILY.xattr.user.dir": "yes"}),
    )
    apply_bytes(data, dest)
    assert os.getxattr(dest / "bin/ping", "security.capability") == cap
    assert os.getxattr(dest / "bin/ping", "user.note") == b"hello"
    assert os.getxattr(dest / "d", "user.dir") == b"yes"


def test_overlay_xattrs_in_headers_are_ignored(layer):
    dest, _ = layer
    warnings: list[str] = []
    data = make_tar(entry("d/", tarfile.DIRTYPE, pax={"SCHILY.xattr.trusted.overlay.redirect": "/etc"}))
    apply_bytes(data, dest, warnings)
    assert "trusted.overlay.redirect" not in os.listxattr(dest / "d")
    assert any("trusted.overlay.redirect" in w for w in warnings)


def test_later_entries_replace_earlier_ones(layer):
    dest, _ = layer
    data = make_tar(
        entry("x/", tarfile.DIRTYPE),
        entry("x/child", data=b"c"),
        entry("x", data=b"now a file"),
        entry("y", data=b"file"),
        entry("y/", tarfile.DIRTYPE, mode=0o711),
        entry("y/inner", data=b"i"),
        entry("z/", tarfile.DIRTYPE, mode=0o700),
        entry("z/keep", data=b"k"),
        entry("z/", tarfile.DIRTYPE, mode=0o755),  # dir over dir merges
    )
    apply_bytes(data, dest)
    assert (dest / "x").read_bytes() == b"now a file"
    assert (dest / "y/inner").read_bytes() == b"i"
    assert stat.S_IMODE((dest / "y").stat().st_mode) == 0o711
    assert (dest / "z/keep").read_bytes() == b"k"
    assert stat.S_IMODE((dest / "z").stat().st_mode) == 0o755


def test_root_entry_keeps_the_layer_dirs_attributes(layer):
    dest, _ = layer
    data = make_tar(entry("./", tarfile.DIRTYPE, mode=0o700, uid=123), entry("./f", data=b"x"))
    apply_bytes(data, dest)
    st = dest.stat()
    assert stat.S_IMODE(st.st_mode) == 0o755 and st.st_uid == 0
    assert (dest / "f").read_bytes() == b"x"


def test_truncated_file_data_is_refused(layer):
    dest, _ = layer
    data = make_tar(entry("big", data=b"a" * 100_000))
    with pytest.raises(InvalidParameter) as err:
        apply_bytes(data[:50_000], dest)
    assert "unexpected end of data" in err.value.message


def test_truncated_header_is_refused(layer):
    dest, _ = layer
    data = make_tar(entry("a", data=b"1" * 512), entry("b", data=b"2"))
    with pytest.raises(InvalidParameter):
        apply_bytes(data[: 1024 + 200], dest)  # a's header+data, then part of b's header


def test_corrupt_header_in_the_middle_is_refused(layer):
    dest, _ = layer
    data = bytearray(make_tar(entry("a", data=b"1" * 512), entry("b", data=b"2")))
    data[1024 + 150] ^= 0xFF  # b's header checksum no longer matches
    with pytest.raises(InvalidParameter) as err:
        apply_bytes(bytes(data), dest)
    assert "truncated or corrupt" in err.value.message


def test_garbage_is_refused(layer):
    dest, _ = layer
    with pytest.raises(InvalidParameter):
        apply_bytes(b"this is not a tar archive at all" * 40, dest)


def test_truncated_gzip_is_refused(layer):
    dest, _ = layer
    data = igzip.compress(make_tar(entry("f", data=os.urandom(100_000))))
    with pytest.raises(InvalidParameter) as err:
        apply_bytes(data[: len(data) // 2], dest)
    assert "gzip" in err.value.message


@pytest.mark.parametrize("cut", [0.5, 0.999])
def test_truncated_zstd_is_refused(layer, cut):
    # zstandard's own stream reader ends quietly here; the layer must not.
    dest, _ = layer
    data = zstandard.ZstdCompressor().compress(make_tar(entry("f", data=os.urandom(150_000))))
    with pytest.raises(InvalidParameter) as err:
        apply_bytes(data[: int(len(data) * cut)], dest)
    assert "zstd" in err.value.message


def test_multi_frame_zstd_is_read_to_the_end(layer):
    dest, _ = layer
    data = make_tar(entry("a", data=os.urandom(70_000)), entry("b", data=b"b" * 70_000))
    cctx = zstandard.ZstdCompressor()
    result = apply_bytes(cctx.compress(data[:40_000]) + cctx.compress(data[40_000:]), dest)
    assert result.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert (dest / "b").read_bytes() == b"b" * 70_000


def test_tar_without_end_of_archive_blocks_is_accepted(layer):
    dest, _ = layer
    data = make_tar(entry("f", data=b"x" * 10))
    bare = data[:1024]  # header + one data block, no zero blocks
    result = apply_bytes(bare, dest)
    assert (dest / "f").read_bytes() == b"x" * 10
    assert result.diff_id == "sha256:" + hashlib.sha256(bare).hexdigest()


def test_long_names_and_unicode_survive(layer):
    dest, _ = layer
    long_name = "/".join(["d" * 60] * 4) + "/ファイル.txt"
    data = make_tar(entry(long_name, data=b"u"))
    apply_bytes(data, dest)
    assert (dest / long_name).read_bytes() == b"u"


def test_many_nested_directories_do_not_exhaust_fds(layer):
    dest, _ = layer
    deep = "/".join(f"d{i}" for i in range(150))
    entries = [entry(deep + "/f", data=b"deep")]
    entries += [entry(f"wide{i}/f", data=b"w") for i in range(200)]
    apply_bytes(make_tar(*entries), dest)
    assert (dest / deep / "f").read_bytes() == b"deep"
    assert len(os.listdir(f"/proc/{os.getpid()}/fd")) < 100


def test_pax_sub_second_mtime_is_kept(layer):
    dest, _ = layer
    data = make_tar(entry("f", data=b"x", pax={"mtime": "1600000000.123456789"}))
    apply_bytes(data, dest)
    assert os.stat(dest / "f").st_mtime_ns == 1600000000123456789


def test_unwritable_destination_is_a_system_error(tmp_path):
    from berth.errors import System

    with pytest.raises(System):
        apply_layer(io.BytesIO(make_tar(entry("f", data=b"x"))), str(tmp_path / "missing"))


def test_over_long_name_component_is_invalid_input(layer):
    dest, _ = layer
    with pytest.raises(InvalidParameter) as err:
        apply_bytes(make_tar(entry("d/" + "n" * 300, data=b"x")), dest)
    assert "n" * 300 in err.value.message
