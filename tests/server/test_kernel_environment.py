"""GET /pexlab/kernels/<id>/environment against a real kernel running in a separate venv, plus
the auth, XSRF and input-validation behaviour shared by every endpoint."""

from __future__ import annotations

import json
import sys
import uuid

import pytest
from conftest import PROJECTS, on_server_loop
from tornado.httpclient import AsyncHTTPClient, HTTPClientError


async def fetch_error(jp_fetch, *parts, **kw) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*parts, **kw)
    err = info.value
    assert err.response is not None
    assert err.response.headers["Content-Type"].startswith("application/json")
    return err.code, json.loads(err.response.body)


@on_server_loop
async def test_environment_is_the_kernels_venv_not_the_servers(jp_fetch, start_kernel, kernel_venv):
    kid = await start_kernel()
    r = await jp_fetch("pexlab", "kernels", kid, "environment")
    data = json.loads(r.body)
    assert data["python"] == str(kernel_venv.python)
    assert data["python"] != sys.executable
    assert data["prefix"] == str(kernel_venv.root)
    assert data["kind"] == "venv"
    assert data["python_version"].startswith(f"{sys.version_info[0]}.{sys.version_info[1]}.")
    dists = {d["name"]: d for d in data["distributions"]}
    assert dists["pexlab-srv-lib"]["version"] == "1.2.3"
    assert dists["pexlab-srv-lib"]["editable"] is False
    assert dists["pexlab-srv-lib"]["project_dir"] is None
    assert dists["pexlab-srv-edit"]["editable"] is True
    assert dists["pexlab-srv-edit"]["project_dir"] == str(PROJECTS / "pexlab-srv-edit")
    assert "ipykernel" in dists
    # The server's own packages are not in the kernel's venv.
    assert "jupyter-server" not in dists
    assert "jupyter_server" not in dists
    assert data["pex"]["state"] in {"missing", "up-to-date", "stale"}


@on_server_loop
async def test_environment_follows_kernel_restart(jp_fetch, start_kernel, kernel_venv):
    kid = await start_kernel()
    first = json.loads((await jp_fetch("pexlab", "kernels", kid, "environment")).body)
    await jp_fetch("api", "kernels", kid, "restart", method="POST", body="{}")
    second = json.loads((await jp_fetch("pexlab", "kernels", kid, "environment")).body)
    assert first["python"] == second["python"] == str(kernel_venv.python)


@on_server_loop
async def test_unknown_kernel_is_404_json(jp_fetch):
    code, body = await fetch_error(jp_fetch, "pexlab", "kernels", str(uuid.uuid4()), "environment")
    assert code == 404
    assert "No running kernel" in body["message"]


@pytest.mark.parametrize(
    "parts",
    [
        ("pexlab", "kernels", "not-a-uuid", "environment"),
        ("pexlab", "kernels", "..%2F..%2Fetc", "environment"),
        ("pexlab", "builds", "../../etc/passwd"),
        ("pexlab", "builds", "0" * 31),
        ("pexlab", "nothing-here"),
    ],
)
@on_server_loop
async def test_malformed_ids_and_unknown_paths_are_404_json(jp_fetch, parts):
    code, body = await fetch_error(jp_fetch, *parts)
    assert code == 404
    assert body["message"]


ENDPOINTS = [
    ("GET", "pexlab/kernels/{kid}/environment", None),
    ("GET", "pexlab/kernels/{kid}/stamp", None),
    ("GET", "pexlab/builds", None),
    ("POST", "pexlab/builds", '{"kernel_id": "{kid}"}'),
    ("GET", "pexlab/builds/" + "a" * 32, None),
    ("DELETE", "pexlab/builds/" + "a" * 32, None),
    ("GET", "pexlab/artifacts", None),
    ("DELETE", "pexlab/artifacts/" + "b" * 64, None),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
@on_server_loop
async def test_every_endpoint_is_403_without_login(
    jp_fetch, jp_http_port, jp_base_url, method, path, body
):
    # jp_fetch only to have the server listening; requests below carry no token.
    kid = str(uuid.uuid4())
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}{path.format(kid=kid)}"
    with pytest.raises(HTTPClientError) as info:
        await AsyncHTTPClient().fetch(
            url,
            method=method,
            body=body.replace("{kid}", kid) if body else None,
            allow_nonstandard_methods=True,
        )
    assert info.value.code == 403
    assert json.loads(info.value.response.body)["message"]


async def _login_cookies(jp_http_port, jp_base_url, token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Log in like a browser: token in the URL once, then only cookies."""
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    cookies: dict[str, str] = {}
    # The login page sets the _xsrf cookie (its form carries the token); the token URL logs in.
    for url in (f"{base}login", f"{base}login?token={token}"):
        r = await AsyncHTTPClient().fetch(url, follow_redirects=False, raise_error=False)
        for header in r.headers.get_list("Set-Cookie"):
            name, _, rest = header.partition("=")
            cookies[name] = rest.split(";", 1)[0]
    return cookies


@on_server_loop
async def test_xsrf_is_enforced_for_cookie_sessions(
    jp_fetch, jp_http_port, jp_base_url, jp_serverapp
):
    cookies = await _login_cookies(jp_http_port, jp_base_url, jp_serverapp.identity_provider.token)
    assert "_xsrf" in cookies, cookies
    cookie_header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}pexlab/builds"
    body = json.dumps({"kernel_id": str(uuid.uuid4())})
    # Logged in by cookie but no XSRF token: refused before the handler runs.
    r = await AsyncHTTPClient().fetch(
        url, method="POST", body=body, headers={"Cookie": cookie_header}, raise_error=False
    )
    assert r.code == 403
    assert "_xsrf" in json.loads(r.body)["message"]
    # Same request with the XSRF token: reaches the handler (unknown kernel -> 404).
    r = await AsyncHTTPClient().fetch(
        url,
        method="POST",
        body=body,
        raise_error=False,
        headers={"Cookie": cookie_header, "X-XSRFToken": cookies["_xsrf"]},
    )
    assert r.code == 404, r.body
    # GET with the cookie alone is fine (XSRF only guards state-changing methods).
    r = await AsyncHTTPClient().fetch(url, headers={"Cookie": cookie_header}, raise_error=False)
    assert r.code == 200


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ("x" * (64 * 1024 + 1), 413, "larger than"),
        ("{not json", 400, "not valid JSON"),
        ("[1, 2]", 400, "JSON object"),
        ('{"kernel_id": "../../etc"}', 400, "kernel_id"),
        (
            '{"kernel_id": "' + str(uuid.UUID(int=1)) + '", "python": "/usr/bin/python3"}',
            400,
            "Unknown field",
        ),
        (
            '{"kernel_id": "' + str(uuid.UUID(int=1)) + '", "options": {"exclude_extra": ["a b"]}}',
            400,
            "not a package name",
        ),
        (
            '{"kernel_id": "' + str(uuid.UUID(int=1)) + '", "options": {"extra_args": ["--foo"]}}',
            400,
            "Unknown option",
        ),
        ('{"kernel_id": "' + str(uuid.UUID(int=1)) + '", "storage": ""}', 400, "storage"),
        # Defaults belong to the server: a request names only what the user adds.
        (
            '{"kernel_id": "' + str(uuid.UUID(int=1)) + '", "options": {"exclude": ["numpy"]}}',
            400,
            "Unknown option",
        ),
        (
            '{"kernel_id": "' + str(uuid.UUID(int=1)) + '", "storage": "http://example.com/x"}',
            422,
            "c.PexLab.allowed_storage",
        ),
    ],
)
@on_server_loop
async def test_bad_build_requests_are_rejected_with_json(jp_fetch, body, code, fragment):
    got, data = await fetch_error(jp_fetch, "pexlab", "builds", method="POST", body=body)
    assert got == code
    assert fragment in data["message"]
