"""resolve_user against a hostile rootfs, with docker's (runc's) lookup rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from berth.errors import InvalidParameter
from berth.runtime.users import open_in_root, read_in_root, resolve_user

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1001:App:/home/app:/bin/sh
# a comment
broken line
"""
GROUP = """\
root:x:0:
wheel:x:10:root,app
staff:x:50:app
apps:x:1001:
"""


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    return root


def test_empty_user_is_root_with_roots_supplementary_groups(rootfs):
    assert resolve_user(str(rootfs), "") == (0, 0, [10])


def test_name(rootfs):
    assert resolve_user(str(rootfs), "app") == (1000, 1001, [10, 50])


def test_uid_in_passwd_takes_its_group_and_memberships(rootfs):
    assert resolve_user(str(rootfs), "1000") == (1000, 1001, [10, 50])


def test_numeric_uid_not_in_passwd_is_allowed_with_gid_0(rootfs):
    assert resolve_user(str(rootfs), "4242") == (4242, 0, [])


def test_name_colon_group_name_drops_supplementary_groups(rootfs):
    assert resolve_user(str(rootfs), "app:staff") == (1000, 50, [])


def test_uid_colon_gid_need_not_exist(rootfs):
    assert resolve_user(str(rootfs), "5000:6000") == (5000, 6000, [])


def test_name_colon_gid(rootfs):
    assert resolve_user(str(rootfs), "daemon:77") == (1, 77, [])


def test_group_add_appends_names_and_numbers(rootfs):
    assert resolve_user(str(rootfs), "daemon", ["staff", "99"]) == (1, 1, [50, 99])
    with pytest.raises(InvalidParameter, match="Unable to find group nosuch"):
        resolve_user(str(rootfs), "daemon", ["nosuch"])


def test_unknown_user_and_group_give_dockers_errors(rootfs):
    with pytest.raises(InvalidParameter) as err:
        resolve_user(str(rootfs), "nosuch")
    assert err.value.message == "unable to find user nosuch: no matching entries in passwd file"
    with pytest.raises(InvalidParameter) as err:
        resolve_user(str(rootfs), "app:nosuch")
    assert err.value.message == "unable to find group nosuch: no matching entries in group file"


def test_out_of_range_uid_is_rejected(rootfs):
    with pytest.raises(InvalidParameter, match="uids and gids must be in range"):
        resolve_user(str(rootfs), "4294967296")


def test_missing_passwd_allows_numeric_but_not_names(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    assert resolve_user(str(root), "") == (0, 0, [])
    assert resolve_user(str(root), "33:33") == (33, 33, [])
    with pytest.raises(InvalidParameter, match="unable to find user www-data"):
        resolve_user(str(root), "www-data")


def test_passwd_symlink_to_host_shadow_is_resolved_inside_the_rootfs(tmp_path):
    root = tmp_path / "evil"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc/shadow", root / "etc/passwd")
    os.symlink("../../../../../../../../etc/hostname", root / "etc/group")
    # Nothing inside the rootfs at /etc/shadow: the host file must not be read.
    assert read_in_root(str(root), "/etc/passwd") is None
    assert resolve_user(str(root), "") == (0, 0, [])
    with pytest.raises(InvalidParameter, match="unable to find user root"):
        resolve_user(str(root), "root")
    # With a shadow file *inside* the rootfs, that one is what gets read.
    (root / "etc/shadow").write_text("inside:x:7:7::/:/bin/sh\n")
    assert resolve_user(str(root), "inside") == (7, 7, [])


def test_symlinked_etc_directory_stays_inside_the_rootfs(tmp_path):
    root = tmp_path / "evil2"
    root.mkdir()
    os.symlink("/", root / "etc")  # /etc -> / : etc/passwd must become <root>/passwd
    (root / "passwd").write_text("x:x:3:3::/:/bin/sh\n")
    assert resolve_user(str(root), "x") == (3, 3, [])


def test_symlink_loop_and_non_regular_files_are_refused(tmp_path):
    root = tmp_path / "evil3"
    (root / "etc").mkdir(parents=True)
    os.symlink("passwd", root / "etc/passwd")
    with pytest.raises(OSError):
        open_in_root(str(root), "/etc/passwd")
    with pytest.raises(InvalidParameter, match="unable to read /etc/passwd in the container"):
        resolve_user(str(root), "")
    os.unlink(root / "etc/passwd")
    os.mkfifo(root / "etc/passwd")  # would block a naive open()
    with pytest.raises(OSError):
        open_in_root(str(root), "/etc/passwd")
    os.unlink(root / "etc/passwd")
    (root / "etc/passwd").mkdir()
    with pytest.raises(OSError):
        open_in_root(str(root), "/etc/passwd")
