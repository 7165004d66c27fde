"""docker's -v / --mount / --tmpfs parsing and checks, volume filters, and the
copy-up tree copy, as pure logic on a temporary directory."""

from __future__ import annotations

import os
import stat

import pytest

from berth.errors import InvalidParameter
from berth.volumes import copyup
from berth.volumes.filters import check_list_filters, check_prune_filters, volume_matches
from berth.volumes.specs import parse_bind, parse_mount, parse_tmpfs, parse_volumes_from, valid_mode
from berth.volumes.store import Volume, VolumeStore, validate_name, validate_options


def _err(fn, *args) -> str:
    with pytest.raises(InvalidParameter) as exc:
        fn(*args)
    return exc.value.message


def test_named_volume_bind_gets_dockers_default_mode_z():
    s = parse_bind("data:/srv/data")
    assert (s.type, s.source, s.target, s.rw, s.mode, s.copy, s.anonymous) == \
        ("volume", "data", "/srv/data", True, "z", True, False)


def test_host_path_is_a_bind_with_rprivate_and_created_when_missing():
    s = parse_bind("/tmp/x/../y:/a/:ro,rshared")
    assert (s.type, s.source, s.target, s.rw, s.propagation, s.create_source) == \
        ("bind", "/tmp/y", "/a", False, "rshared", True)


def test_a_lone_path_is_an_anonymous_volume():
    s = parse_bind("/cache")
    assert s.type == "volume" and s.anonymous and s.source == ""


def test_nocopy_mode_turns_copy_up_off():
    assert parse_bind("v:/d:nocopy").copy is False


@pytest.mark.parametrize("raw,message", [
    ("/h:/", "invalid volume specification: '/h:/': invalid mount config for type \"bind\": "
             "invalid specification: destination can't be '/'"),
    ("/a:ro", "invalid volume specification: '/a:ro'"),
    (":/a", "invalid volume specification: ':/a'"),
    ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
    ("v:/a:bogus", "invalid mode: bogus"),
    ("v:/a:ro,rw", "invalid mode: ro,rw"),
    ("v:rel", "invalid volume specification: 'v:rel': invalid mount config for type \"volume\": "
              "invalid mount path: 'rel' mount path must be absolute"),
    ("v:/a:rshared", "invalid volume specification: 'v:/a:rshared': invalid mount config for type "
                     "\"volume\": field BindOptions must not be specified"),
    ("/h:/a:nocopy", "invalid volume specification: '/h:/a:nocopy': invalid mount config for type "
                     "\"bind\": field VolumeOptions must not be specified"),
])
def test_bad_binds_get_dockerds_words(raw, message):
    assert _err(parse_bind, raw) == message


def test_valid_modes_allow_one_of_each_kind():
    assert valid_mode("ro,Z,rslave,nocopy,cached")
    assert not valid_mode("z,Z")


def test_mount_objects_and_their_errors(tmp_path):
    s = parse_mount({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 64 << 20, "Mode": 0o1770}})
    assert s.tmpfs_options == ["noexec", "nosuid", "nodev", "size=64m", "mode=1770"]
    s = parse_mount({"Type": "bind", "Source": str(tmp_path), "Target": "/b",
                     "BindOptions": {"Propagation": "rslave", "NonRecursive": True}})
    assert (s.propagation, s.recursive, s.create_source) == ("rslave", False, False)
    s = parse_mount({"Type": "volume", "Source": "v1", "Target": "/v",
                     "VolumeOptions": {"NoCopy": True, "Labels": {"a": "b"},
                                       "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs"}}}})
    assert (s.copy, s.volume_labels, s.volume_opts, s.mode) == (False, {"a": "b"}, {"type": "tmpfs"}, "z")
    missing = str(tmp_path / "nope")
    assert _err(parse_mount, {"Type": "bind", "Source": missing, "Target": "/x"}) == \
        f'invalid mount config for type "bind": bind source path does not exist: {missing}'
    assert _err(parse_mount, {"Type": "bind", "Source": "rel", "Target": "/x"}) == \
        "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"
    assert _err(parse_mount, {"Type": "volume", "Target": "/x", "ReadOnly": True}) == \
        'invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes'
    assert _err(parse_mount, {"Type": "tmpfs", "Source": "x", "Target": "/x"}) == \
        'invalid mount config for type "tmpfs": field Source must not be specified'
    assert _err(parse_mount, {"Type": "weird", "Target": "/x"}) == \
        'invalid mount config for type "weird": mount type unknown'
    assert _err(parse_mount, {"Type": "volume", "Target": "/"}) == \
        "invalid mount config for type \"volume\": invalid specification: destination can't be '/'"


def test_tmpfs_and_volumes_from():
    assert parse_tmpfs("/run", "size=64m").tmpfs_options == ["noexec", "nosuid", "nodev", "size=64m"]
    assert parse_volumes_from("web:ro") == ("web", False)
    assert parse_volumes_from("web") == ("web", True)
    assert _err(parse_volumes_from, "web:xx") == "invalid mode: xx"


def test_volume_names_and_options():
    assert _err(validate_name, "x/y") == ('create x/y: "x/y" includes invalid characters for a local volume '
                                          'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you '
                                          "intended to pass a host directory, use absolute path")
    assert _err(validate_name, "x") == ("create x: volume name is too short, names should be at least "
                                        "two alphanumeric characters")
    validate_name("my-vol_1.2")
    assert _err(validate_options, "v", {"bogus": "1"}) == 'create v: invalid option: "bogus"'
    assert _err(validate_options, "v", {"type": "tmpfs"}) == 'create v: missing required option: "device"'


def test_filters():
    v = Volume("data1", "local", "", "/x", {"env": "prod", "k": ""})
    assert volume_matches(v, {"name": ["ata"]}, 0)
    assert not volume_matches(v, {"driver": ["loc"]}, 0)
    assert volume_matches(v, {"label": ["env=prod", "k"]}, 3)
    assert not volume_matches(v, {"dangling": ["true"]}, 1)
    assert volume_matches(v, {"dangling": ["0"]}, 1)
    assert not volume_matches(v, {"label!": ["env"]}, 0, prune=True)
    assert _err(check_list_filters, {"bogus": ["1"]}) == "invalid filter 'bogus'"
    assert _err(check_list_filters, {"dangling": ["maybe"]}) == "invalid filter 'dangling=[maybe]'"
    assert _err(check_prune_filters, {"dangling": ["1"]}) == "invalid filter 'dangling'"


def _tree(root) -> None:
    os.makedirs(root / "d" / "e")
    (root / "d" / "f").write_bytes(b"x" * 300_000)
    os.link(root / "d" / "f", root / "hard")
    os.symlink("d/f", root / "link")
    os.mkfifo(root / "fifo")
    os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.chown(root / "d" / "e", 12, 34)
    os.chmod(root / "d" / "e", 0o710)
    os.setxattr(root / "d" / "f", "user.note", b"kept")
    os.utime(root / "d", ns=(1_000_000_000, 2_000_000_000))


def test_copy_tree_keeps_everything_cp_a_keeps(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    os.mkdir(src)
    _tree(src)
    os.mkdir(dst)
    copyup.copy_tree(str(src), str(dst))
    assert (dst / "d" / "f").read_bytes() == b"x" * 300_000
    assert os.stat(dst / "hard").st_ino == os.stat(dst / "d" / "f").st_ino
    assert os.readlink(dst / "link") == "d/f"
    assert stat.S_ISFIFO(os.lstat(dst / "fifo").st_mode)
    assert os.stat(dst / "null").st_rdev == os.makedev(1, 3)
    st = os.stat(dst / "d" / "e")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (12, 34, 0o710)
    assert os.getxattr(dst / "d" / "f", "user.note") == b"kept"
    assert os.stat(dst / "d").st_mtime_ns == 2_000_000_000


def test_populate_replaces_only_an_empty_volume_and_leaves_no_temp_dir(tmp_path):
    src = tmp_path / "img"
    os.makedirs(src / "sub")
    (src / "sub" / "a").write_text("image")
    vol = tmp_path / "vol"
    os.makedirs(vol / "_data")
    assert copyup.populate(str(src), str(vol / "_data"), in_place=False)
    assert (vol / "_data" / "sub" / "a").read_text() == "image"
    assert sorted(os.listdir(vol)) == ["_data"]
    (src / "sub" / "a").write_text("changed")
    assert not copyup.populate(str(src), str(vol / "_data"), in_place=False)  # not empty: kept as is
    assert (vol / "_data" / "sub" / "a").read_text() == "image"


def test_a_half_copy_left_by_a_dead_daemon_is_dropped_at_start(tmp_path):
    from berth.store.metadata import Metadata

    md = Metadata(str(tmp_path / "berth.db"))
    store = VolumeStore(str(tmp_path), md)
    vol, created = store.create("half", "local")
    assert created
    os.makedirs(os.path.join(store.base_dir("half"), "_copyup.tmp", "partial"))
    md.close()
    store = VolumeStore(str(tmp_path), Metadata(str(tmp_path / "berth.db")))
    assert sorted(os.listdir(store.base_dir("half"))) == ["_data"]
    assert copyup.is_empty_dir(store.data_dir("half"))
    assert "half" in store.volumes


def test_a_marked_removal_is_finished_and_unknown_directories_are_adopted(tmp_path):
    from berth.store.metadata import Metadata

    md = Metadata(str(tmp_path / "berth.db"))
    store = VolumeStore(str(tmp_path), md)
    store.create("gone", "local")
    md.execute("UPDATE volumes SET removing=1 WHERE name='gone'")
    os.makedirs(os.path.join(store.root, "found", "_data"))
    store = VolumeStore(str(tmp_path), md)
    assert "gone" not in store.volumes and not os.path.exists(store.base_dir("gone"))
    assert "found" in store.volumes
