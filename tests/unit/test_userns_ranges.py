"""runtime/userns.py: /etc/subuid parsing, free-range choice, id shifting (pure logic)."""

from __future__ import annotations

import os

import pytest

from berth.errors import InvalidParameter
from berth.runtime import userns
from berth.runtime.userns import IdMapping, IdRange, parse_subid


def test_parse_skips_comments_and_malformed_lines():
    text = "# c\n\nalice:100000:65536\nbad line\nbob:x:1\ncarol:-1:5\ndave:5:0\n1001:300000:10\n"
    assert [(e.name, e.start, e.count) for e in parse_subid(text)] == [
        ("alice", 100000, 65536), ("1001", 300000, 10)]


def test_ranges_match_name_or_numeric_id_and_are_laid_end_to_end():
    entries = parse_subid("u:200000:1000\nother:1:1\n1005:500000:50\n")
    assert userns.ranges_for(entries, "u", 1005) == (IdRange(0, 200000, 1000), IdRange(1000, 500000, 50))


@pytest.mark.parametrize("existing, expected", [
    ("", 100000),
    ("a:100000:65536\n", 165536),
    ("a:165536:65536\nb:100000:65536\n", 231072),
    ("a:300000:65536\n", 100000),           # the gap below fits
    ("a:150000:10\n", 150010),              # overlaps the first candidate
    ("a:0:1000\n", 100000),
])
def test_next_free_start(existing, expected):
    assert userns.next_free_start(parse_subid(existing)) == expected


def test_append_is_atomic_and_keeps_mode(tmp_path):
    path = tmp_path / "subuid"
    path.write_text("a:100000:65536")  # no final newline
    os.chmod(path, 0o640)
    userns.append_atomically(str(path), "berthremap:165536:65536")
    assert path.read_text() == "a:100000:65536\nberthremap:165536:65536\n"
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["subuid"]


def test_shifting_both_ways_and_the_overflow_id():
    m = IdMapping((IdRange(0, 100000, 65536),), (IdRange(0, 200000, 10), IdRange(10, 300000, 10)))
    assert m.root == (100000, 200000)
    assert m.to_host(1000, 15) == (101000, 300005)
    assert m.to_container(101000, 300005) == (1000, 15)
    assert m.to_container(0, 5) == (userns.OVERFLOW_ID, userns.OVERFLOW_ID)  # host root is unmapped
    with pytest.raises(InvalidParameter, match="Container ID 70000 cannot be mapped to a host ID"):
        m.to_host(70000, 0)
    with pytest.raises(InvalidParameter, match="Container ID 20 cannot be mapped to a host ID"):
        m.to_host(0, 20)
    assert m.proc_maps() == ("0 100000 65536\n", "0 200000 10\n10 300000 10\n")
    assert IdMapping.from_doc(m.to_doc()) == m
    assert m.oci()[1] == [{"containerID": 0, "hostID": 200000, "size": 10},
                          {"containerID": 10, "hostID": 300000, "size": 10}]


def test_resolve_reads_the_files_for_an_existing_user(tmp_path):
    sub = tmp_path / "subuid"
    sub.write_text("root:400000:65536\n")
    gid = tmp_path / "subgid"
    gid.write_text("0:500000:65536\n")
    m = userns.resolve("root", str(sub), str(gid))
    assert m.root == (400000, 500000)
    assert userns.resolve("0:0", str(sub), str(gid)).root == (400000, 500000)
    with pytest.raises(userns.RemapError, match="no subgid ranges found for group 'daemon'"):
        userns.resolve("root:daemon", str(sub), str(gid))
    with pytest.raises(userns.RemapError, match="Invalid user/group specification"):
        userns.resolve("root:", str(sub), str(gid))


@pytest.mark.parametrize("hc, message", [
    ({"Privileged": True}, "privileged mode is incompatible with user namespaces"),
    ({"NetworkMode": "host"}, "cannot share the host's network namespace"),
    ({"PidMode": "host"}, "cannot share the host PID namespace"),
    ({"UsernsMode": "private", "Privileged": True}, "privileged mode is incompatible"),
])
def test_container_checks(hc, message):
    with pytest.raises(InvalidParameter, match=message):
        userns.check_container(hc)


def test_userns_host_lifts_the_checks():
    userns.check_container({"UsernsMode": "host", "Privileged": True, "NetworkMode": "host", "PidMode": "host"})
    userns.check_container({"NetworkMode": "bridge", "IpcMode": "host"})


def test_spec_gets_a_user_namespace_and_mappings_that_validate(tmp_path):
    """The OCI config under a remap: a new user namespace, uid/gid mappings, valid per the OCI schema."""
    import json
    from pathlib import Path

    from berth.runtime.spec import SpecRequest, build_spec

    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\n")
    m = IdMapping((IdRange(0, 100000, 65536),), (IdRange(0, 100000, 65536),))
    base = {"container_id": "0123456789abcdef0123", "rootfs": str(root), "args": ["/bin/true"], "config": {},
                "host_config": {}, "netns": "/run/berth/netns/x"}
    spec = build_spec(SpecRequest(**base, idmap=m))
    kinds = [ns["type"] for ns in spec["linux"]["namespaces"]]
    assert "user" in kinds and {"type": "network", "path": "/run/berth/netns/x"} in spec["linux"]["namespaces"]
    assert spec["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 100000, "size": 65536}]
    assert spec["linux"]["gidMappings"] == spec["linux"]["uidMappings"]
    plain = build_spec(SpecRequest(**base))
    assert "user" not in [ns["type"] for ns in plain["linux"]["namespaces"]] and "uidMappings" not in plain["linux"]
    from tests.specs import SPECS_DIR

    schema_dir = Path(SPECS_DIR) / "oci-runtime"
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    if not schema_dir.is_dir():
        pytest.skip(f"OCI runtime schemas not found at {schema_dir}")
    from referencing.jsonschema import DRAFT4

    registry = referencing.Registry().with_resources(
        [(p.name, DRAFT4.create_resource(json.loads(p.read_text()))) for p in schema_dir.glob("*.json")])
    validator = jsonschema.Draft4Validator(json.loads((schema_dir / "config-schema.json").read_text()),
                                           registry=registry)
    assert not list(validator.iter_errors(spec))
