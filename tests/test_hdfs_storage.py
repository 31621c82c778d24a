"""HDFS storage over WebHDFS, on the real local HDFS (tests/hadoopenv.py) where a NameNode is
needed: URL forms, idempotent and concurrent uploads, and the errors that name what to fix."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pexlab.build.cache import Cache
from pexlab.core.net import free_port
from pexlab.local.hadoop import LocalHadoop
from pexlab.storage.hdfs import HadoopConfigError, resolve
from pexlab.storage.upload import StorageError, open_destination, preflight, upload

REPO = Path(__file__).resolve().parents[1]


def _site(folder: Path, name: str, props: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(
        f"<property><name>{k}</name><value>{v}</value></property>" for k, v in props.items()
    )
    (folder / name).write_text(f"<configuration>{rows}</configuration>")


def _blob(path: Path, size: int, seed: bytes = b"pexlab") -> Path:
    chunk = hashlib.sha256(seed).digest() * (size // 32 + 1)
    path.write_bytes(chunk[:size])
    return path


# ---- resolving URLs (configuration only, no cluster) ---------------------------------------


def test_hdfs_triple_slash_takes_the_namenode_from_core_site(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    _site(conf, "core-site.xml", {"fs.defaultFS": "hdfs://nn.example:8020"})
    _site(conf, "hdfs-site.xml", {"dfs.namenode.http-address": "0.0.0.0:9871"})
    loc = resolve("hdfs:///data/pexlab", {"HADOOP_CONF_DIR": str(conf)})
    assert loc.public == "hdfs://nn.example:8020/data/pexlab"
    assert loc.http == (("nn.example", 9871),)  # the 0.0.0.0 bind address reached by name
    assert loc.path == "/data/pexlab"


def test_ha_nameservice_lists_every_namenode(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    _site(conf, "core-site.xml", {"fs.defaultFS": "hdfs://prod"})
    _site(
        conf,
        "hdfs-site.xml",
        {
            "dfs.nameservices": "prod",
            "dfs.ha.namenodes.prod": "nn1,nn2",
            "dfs.namenode.http-address.prod.nn1": "a.example:9870",
            "dfs.namenode.http-address.prod.nn2": "b.example:9870",
        },
    )
    loc = resolve("hdfs:///x", {"HADOOP_CONF_DIR": str(conf)})
    assert loc.public == "hdfs://prod/x"
    assert loc.http == (("a.example", 9870), ("b.example", 9870))


def test_webhdfs_url_needs_no_configuration() -> None:
    loc = resolve("webhdfs://nn.example:50070/a/b", {})
    assert loc.http == (("nn.example", 50070),)
    assert loc.public == "webhdfs://nn.example:50070/a/b"


def test_triple_slash_without_hadoop_conf_dir_says_to_set_it() -> None:
    with pytest.raises(HadoopConfigError, match="HADOOP_CONF_DIR is not set"):
        resolve("hdfs:///x", {})


def test_missing_conf_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(HadoopConfigError, match="is not a folder"):
        resolve("hdfs:///x", {"HADOOP_CONF_DIR": str(tmp_path / "nope")})


def test_invalid_xml_is_named(tmp_path: Path) -> None:
    (tmp_path / "core-site.xml").write_text("<configuration><property>")
    with pytest.raises(HadoopConfigError, match=r"core-site.xml is not valid XML"):
        resolve("hdfs:///x", {"HADOOP_CONF_DIR": str(tmp_path)})


def test_default_fs_not_hdfs_is_named(tmp_path: Path) -> None:
    _site(tmp_path, "core-site.xml", {"fs.defaultFS": "file:///"})
    with pytest.raises(HadoopConfigError, match="sets file:///"):
        resolve("hdfs:///x", {"HADOOP_CONF_DIR": str(tmp_path)})


def test_unreachable_namenode_is_named_before_any_packaging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    dead = free_port()
    _site(conf, "core-site.xml", {"fs.defaultFS": f"hdfs://127.0.0.1:{free_port()}"})
    _site(conf, "hdfs-site.xml", {"dfs.namenode.http-address": f"127.0.0.1:{dead}"})
    monkeypatch.setenv("HADOOP_CONF_DIR", str(conf))
    with pytest.raises(StorageError, match=rf"Cannot reach the HDFS NameNode.*127.0.0.1:{dead}"):
        preflight("hdfs:///pexlab")
    # package_environment checks storage first: it fails without inspecting or building.
    from pexlab.package import package_environment

    cache = Cache(tmp_path / "cache")
    with pytest.raises(StorageError, match="Cannot reach the HDFS NameNode"):
        package_environment(storage="hdfs:///pexlab", cache=cache)
    assert cache.list() == []


def test_a_question_about_hdfs_storage_reads_only_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """preflight(create=False), what the panel's settings check asks on every environment
    request: no NameNode call (a dead one is not waited for), but a broken configuration is
    still named."""
    conf = tmp_path / "conf"
    _site(conf, "core-site.xml", {"fs.defaultFS": f"hdfs://127.0.0.1:{free_port()}"})
    _site(conf, "hdfs-site.xml", {"dfs.namenode.http-address": f"127.0.0.1:{free_port()}"})
    monkeypatch.setenv("HADOOP_CONF_DIR", str(conf))
    preflight("hdfs:///pexlab", create=False)
    with pytest.raises(StorageError, match="Cannot reach the HDFS NameNode"):
        preflight("hdfs:///pexlab")  # the real check before a build still calls it
    monkeypatch.setenv("HADOOP_CONF_DIR", str(tmp_path / "missing"))
    with pytest.raises(StorageError, match="is not a folder"):
        preflight("hdfs:///pexlab", create=False)


# ---- on the real HDFS ------------------------------------------------------------------------


@pytest.mark.hadoop
def test_upload_is_once_per_content_and_never_half_visible(
    hadoop_env: LocalHadoop, tmp_path: Path
) -> None:
    art = _blob(tmp_path / "env-abc123.pex", 3_000_000)
    url = upload(art, "hdfs:///pexlab/idem")
    assert url == f"{hadoop_env.default_fs}/pexlab/idem/env-abc123.pex"
    fs, folder = open_destination("hdfs:///pexlab/idem")
    first = fs.info(f"{folder}/env-abc123.pex")
    assert first["size"] == art.stat().st_size
    assert fs.cat_file(f"{folder}/env-abc123.pex") == art.read_bytes()

    events: list[str] = []
    again = upload(art, "hdfs:///pexlab/idem", progress=lambda e: events.append(e.message))
    assert again == url
    second = fs.info(f"{folder}/env-abc123.pex")
    assert second["modificationTime"] == first["modificationTime"]  # not written again
    assert any("already at" in m for m in events)
    assert fs.ls(folder, detail=False) == [f"{folder}/env-abc123.pex"]  # no temp names left


@pytest.mark.hadoop
def test_explicit_namenode_and_webhdfs_urls(hadoop_env: LocalHadoop, tmp_path: Path) -> None:
    art = _blob(tmp_path / "a-1.zip", 1000)
    explicit = f"{hadoop_env.default_fs}/pexlab/explicit"
    assert upload(art, explicit) == f"{explicit}/a-1.zip"
    web = f"{hadoop_env.webhdfs_url}/pexlab/web"
    assert upload(art, web) == f"{web}/a-1.zip"
    fs, _ = open_destination(explicit)
    assert fs.cat_file("/pexlab/web/a-1.zip") == art.read_bytes()


@pytest.mark.hadoop
def test_concurrent_uploads_leave_one_good_file(hadoop: LocalHadoop, tmp_path: Path) -> None:
    art = _blob(tmp_path / "env-concurrent.pex", 20_000_000, b"concurrent")
    code = (
        "import sys; from pexlab.storage.upload import upload; "
        "print(upload(sys.argv[1], 'hdfs:///pexlab/concurrent'))"
    )
    env = dict(os.environ, HADOOP_CONF_DIR=str(hadoop.conf_dir), PYTHONPATH=str(REPO))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(art)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    assert {o.strip() for o, _ in outs} == {f"{hadoop.default_fs}/pexlab/concurrent/{art.name}"}
    fs, folder = open_destination(hadoop.webhdfs_url + "/pexlab/concurrent")
    assert fs.ls(folder, detail=False) == [f"{folder}/{art.name}"]
    assert fs.cat_file(f"{folder}/{art.name}") == art.read_bytes()


@pytest.mark.hadoop
def test_no_permission_to_write_names_the_folder_and_user(
    hadoop_env: LocalHadoop, tmp_path: Path
) -> None:
    fs, _ = open_destination("hdfs:///")
    fs.makedirs("/locked", exist_ok=True)
    fs.chmod(
        "/locked", "755"
    )  # octal text for WebHDFS; the superuser's folder: others may read, not write
    with pytest.raises(
        StorageError, match=r"No permission to write hdfs:///locked/pexlab.*'alice'"
    ):
        preflight("hdfs:///locked/pexlab", {"user": "alice"})
    with pytest.raises(StorageError, match="permission denied"):
        upload(_blob(tmp_path / "x-1.zip", 10), "hdfs:///locked", storage_options={"user": "alice"})
    preflight("hdfs:///locked/pexlab")  # the owner may


# ---- the developer command ------------------------------------------------------------------


def test_local_hadoop_cli_without_maven_says_what_to_install(tmp_path: Path) -> None:
    # An empty jar folder and a PATH with java but no mvn: the first fetch cannot happen.
    java_dir = tmp_path / "bin"
    java_dir.mkdir()
    from pexlab.local.hadoop_jars import java_home

    (java_dir / "java").symlink_to(java_home() / "bin" / "java")
    env = dict(
        os.environ,
        PATH=str(java_dir),
        PEXLAB_HADOOP_HOME=str(tmp_path / "hadoop"),
        PYTHONPATH=str(REPO),
    )
    done = subprocess.run(
        [sys.executable, "-m", "pexlab.local.hadoop"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Maven (mvn) is needed" in done.stderr
    assert "apt-get install maven" in done.stderr
    assert done.stdout == ""  # no HADOOP_CONF_DIR printed for a cluster that did not start
