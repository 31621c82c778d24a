"""The Hadoop cluster (HDFS + YARN) for the tests: started once per test session, on demand.

Its NodeManager's PATH starts with a bare venv (nothing installed), so YARN containers' python
lacks every package a job imports unless pexlab shipped it.  HDFS permissions are on; the user
running the tests is the HDFS superuser.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pexlab.local.hadoop import LocalHadoop


@pytest.fixture(scope="session")
def hadoop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHadoop]:
    cluster = LocalHadoop(base_dir=tmp_path_factory.mktemp("hadoop"))
    with cluster:
        yield cluster


@pytest.fixture
def hadoop_env(hadoop: LocalHadoop, monkeypatch: pytest.MonkeyPatch) -> LocalHadoop:
    """`hadoop`, with this process's HADOOP_CONF_DIR pointing at it for the test."""
    monkeypatch.setenv("HADOOP_CONF_DIR", str(hadoop.conf_dir))
    return hadoop
