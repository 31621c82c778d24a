"""Publishing artifacts through fsspec: a local folder and a real S3-compatible server (moto in
server mode, started here on a free port and stopped by PID)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pexlab.core.net import free_port
from pexlab.core.progress import ProgressEvent
from pexlab.storage.upload import StorageError, preflight, upload


def _artifact(
    tmp_path: Path, name: str = "pexlab-env-0123456789abcdef.pex", size: int = 300_000
) -> Path:
    path = tmp_path / "src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


# -- local folder -------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["path", "file-url"])
def test_local_folder_upload_skip_and_replace(tmp_path: Path, form: str) -> None:
    art = _artifact(tmp_path)
    dest_dir = tmp_path / "store" / "nested"
    dest = str(dest_dir) if form == "path" else f"file://{dest_dir}"
    events: list[ProgressEvent] = []
    url = upload(art, dest, events.append)
    remote = dest_dir / art.name
    assert url == f"file://{remote}"
    assert remote.read_bytes() == art.read_bytes()
    assert events
    assert events[-1].phase == "upload"
    assert events[-1].fraction == 1.0
    # Same name and size: nothing is written again.
    before = remote.stat().st_mtime_ns
    time.sleep(0.01)
    assert upload(art, dest) == url
    assert remote.stat().st_mtime_ns == before
    # A different size under that name (a half-copied file from another tool): replaced.
    remote.write_bytes(b"partial")
    upload(art, dest)
    assert remote.read_bytes() == art.read_bytes()
    assert sorted(p.name for p in dest_dir.iterdir()) == [art.name]  # no temp names left


def test_missing_backend_says_what_to_install(tmp_path: Path) -> None:
    art = _artifact(tmp_path, size=10)
    for url, package in (("gs://bucket/p", "gcsfs"), ("abfs://container/p", "adlfs")):
        try:
            __import__(package)
        except ImportError:
            pass
        else:  # installed here after all: this case cannot be shown with it
            continue
        with pytest.raises(StorageError, match=f"pip install {package}"):
            upload(art, url)
    with pytest.raises(StorageError, match="Unknown storage protocol"):
        upload(art, "nosuchproto://x/y")


def test_unwritable_destination_is_a_storage_error(tmp_path: Path) -> None:
    art = _artifact(tmp_path, size=10)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match=r"a-file"):
        upload(art, str(blocker / "sub"))
    with pytest.raises(StorageError, match="not a file"):
        upload(tmp_path / "missing.pex", str(tmp_path / "store"))


# -- S3 (moto server) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3-compatible server on 127.0.0.1 (not a mock of pexlab: a real HTTP S3 API)."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "moto server did not start"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def s3_options(s3_server: str) -> dict:
    return {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": s3_server, "region_name": "us-east-1"},
    }


def test_s3_upload_is_published_under_its_name_and_skipped_when_present(
    tmp_path: Path, s3_options: dict
) -> None:
    import boto3
    import s3fs

    client_kw = s3_options["client_kwargs"]
    boto3.client(
        "s3", aws_access_key_id="testing", aws_secret_access_key="testing", **client_kw
    ).create_bucket(Bucket="pexlab-test")
    fs = s3fs.S3FileSystem(**s3_options)
    art = _artifact(tmp_path, size=6 * 1024 * 1024)
    events: list[ProgressEvent] = []
    url = upload(art, "s3://pexlab-test/artifacts", events.append, storage_options=s3_options)
    assert url == f"s3://pexlab-test/artifacts/{art.name}"
    fs.invalidate_cache()
    assert fs.cat_file(f"pexlab-test/artifacts/{art.name}") == art.read_bytes()
    assert fs.ls("pexlab-test/artifacts") == [f"pexlab-test/artifacts/{art.name}"]
    # Byte progress from the upload itself (s3fs reports per part; one part at this size).
    # One size convention everywhere (pexlab.spark.notebook_progress.format_size: 1024-based).
    assert any(e.message.endswith(" of 6.0 MB") for e in events), events
    # Present with the right size: skipped (the object's timestamp does not move).
    modified = fs.info(f"pexlab-test/artifacts/{art.name}")["LastModified"]
    time.sleep(1.1)
    assert upload(art, "s3://pexlab-test/artifacts", storage_options=s3_options) == url
    fs.invalidate_cache()
    assert fs.info(f"pexlab-test/artifacts/{art.name}")["LastModified"] == modified


def test_s3_missing_bucket_is_a_storage_error(tmp_path: Path, s3_options: dict) -> None:
    art = _artifact(tmp_path, size=10)
    with pytest.raises(StorageError, match="no-such-bucket"):
        upload(art, "s3://no-such-bucket/x", storage_options=s3_options)


def test_s3_unreachable_endpoint_is_a_storage_error(tmp_path: Path) -> None:
    art = _artifact(tmp_path, size=10)
    dead = {
        "key": "k",
        "secret": "s",
        "client_kwargs": {
            "endpoint_url": f"http://127.0.0.1:{free_port()}",
            "region_name": "us-east-1",
        },
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
    }
    with pytest.raises(StorageError, match=r"unreachable|Could not|Cannot reach"):
        upload(art, "s3://bucket/x", storage_options=dead)


# -- storage that cannot take uploads ------------------------------------------------------


@pytest.mark.parametrize(
    "dest", ["http://example.invalid/x", "https://example.invalid/x", "zip://a.zip", "memory://x"]
)
def test_storage_that_cannot_take_uploads_is_refused_before_packaging(
    tmp_path: Path, dest: str
) -> None:
    from pexlab.package import package_environment

    events: list[ProgressEvent] = []
    with pytest.raises(StorageError) as caught:
        package_environment(storage=dest, progress=events.append)
    said = str(caught.value)
    assert repr(dest) in said
    assert "s3://" in said
    assert "gs://" in said
    assert "hdfs://" in said
    assert "file://" in said
    assert "aiohttp" not in said, "no package to install sends the user astray"
    assert events == [], "refused before inspecting or building anything"
    with pytest.raises(StorageError, match=r"cannot upload|executors cannot fetch"):
        preflight(dest)
    with pytest.raises(StorageError, match=r"cannot upload|executors cannot fetch"):
        upload(_artifact(tmp_path), dest)


def test_writable_storage_kinds_pass_the_check(tmp_path: Path) -> None:
    from pexlab.storage.base import check_can_publish

    for dest in (str(tmp_path), f"file://{tmp_path}", "s3://b/p", "gs://b/p", "hdfs:///p"):
        check_can_publish(dest)
