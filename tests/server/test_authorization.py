"""Authorization, not only authentication: a logged-in identity that may only read (a read-only
collaborator under JupyterHub's role-based sharing) cannot make the server run code in a kernel,
start or cancel builds, or delete artifacts, and can still list builds and artifacts.

The identity is real (the server's token); only its permissions come from a test Authorizer
configured like any deployment's `c.ServerApp.authorizer_class`."""

from __future__ import annotations

import json
import uuid

import pytest
from conftest import on_server_loop, server_config
from jupyter_server.auth.authorizer import Authorizer
from tornado.httpclient import HTTPClientError


class ReadOnlyAuthorizer(Authorizer):
    """Allows "read" on every resource, nothing else."""

    def is_authorized(self, handler, user, action, resource):  # type: ignore[no-untyped-def]
        return action == "read"


@pytest.fixture
def jp_server_config(pexlab_cache):  # type: ignore[no-untyped-def]
    config = server_config(pexlab_cache)
    config["ServerApp"]["authorizer_class"] = ReadOnlyAuthorizer
    return config


KID = str(uuid.uuid4())
REFUSED = [
    ("GET", ("pexlab", "kernels", KID, "environment"), None),
    ("GET", ("pexlab", "kernels", KID, "stamp"), None),
    ("POST", ("pexlab", "builds"), json.dumps({"kernel_id": KID})),
    ("DELETE", ("pexlab", "builds", "a" * 32), None),
    ("DELETE", ("pexlab", "artifacts", "b" * 64), None),
]


@pytest.mark.parametrize(("method", "parts", "body"), REFUSED)
@on_server_loop
async def test_read_only_identity_cannot_run_or_change_anything(jp_fetch, method, parts, body):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*parts, method=method, body=body, allow_nonstandard_methods=True)
    assert info.value.code == 403
    message = json.loads(info.value.response.body)["message"]
    assert "not authorized" in message


@on_server_loop
async def test_read_only_identity_can_list(jp_fetch):
    builds = await jp_fetch("pexlab", "builds")
    assert builds.code == 200
    assert "builds" in json.loads(builds.body)
    artifacts = await jp_fetch("pexlab", "artifacts")
    assert artifacts.code == 200
    assert "artifacts" in json.loads(artifacts.body)
    # Reading a build is allowed: an unknown one is "not found", not "forbidden".
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("pexlab", "builds", "c" * 32)
    assert info.value.code == 404
