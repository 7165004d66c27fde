"""The docker SDK for Python, unchanged, against berthd."""

from __future__ import annotations

import time

import pytest

docker = pytest.importorskip("docker")

pytestmark = pytest.mark.compat


@pytest.fixture(scope="module")
def client(sandbox):
    c = docker.DockerClient(base_url=sandbox.host_url, version="auto")
    yield c
    c.close()


def test_ping_version_info(client):
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.45"
    assert client.info()["Driver"] == "overlay2"


def test_run_returns_output(client):
    out = client.containers.run("busybox", ["echo", "hi"], remove=True)
    assert out == b"hi\n"


def test_run_failure_raises_container_error_with_stderr(client):
    with pytest.raises(docker.errors.ContainerError) as exc:
        client.containers.run("busybox", ["sh", "-c", "echo oops >&2; exit 4"], remove=True, stderr=True)
    assert exc.value.exit_status == 4
    assert b"oops" in exc.value.stderr


def test_detached_lifecycle(client):
    c = client.containers.run("busybox", ["sh", "-c", "echo ready; sleep 600"], detach=True, name="sdkw",
                              labels={"team": "berth"})
    try:
        c.reload()
        assert c.status == "running"
        assert c.name == "sdkw"
        assert c.labels["team"] == "berth"
        assert [x.id for x in client.containers.list(filters={"label": "team=berth"})] == [c.id]
        deadline = time.monotonic() + 10
        while b"ready" not in c.logs() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.logs() == b"ready\n"
        c.stop(timeout=1)
        c.reload()
        assert c.status == "exited"
        assert c.wait()["StatusCode"] == 137
        c.start()
        c.reload()
        assert c.status == "running"
        c.restart(timeout=0)
        c.kill()
        assert c.wait()["StatusCode"] == 137
    finally:
        c.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("sdkw")


def test_images_list_inspect_tag_remove(client):
    image = client.images.get("busybox")
    assert "busybox:latest" in image.tags
    assert image.attrs["Config"]["Cmd"] == ["sh"]
    assert image.tag("sdk-tagged", "v2") is True
    assert "sdk-tagged:v2" in client.images.get("sdk-tagged:v2").tags
    client.images.remove("sdk-tagged:v2")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("sdk-tagged:v2")


def test_import_through_the_sdk(client, busybox_tar):
    with open(busybox_tar, "rb") as f:
        client.api.import_image_from_data(f.read(), repository="sdk-imported", tag="x")
    assert client.images.get("sdk-imported:x").attrs["RootFS"]["Layers"]
    client.images.remove("sdk-imported:x")
