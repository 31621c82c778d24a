"""REST handlers under `<base_url>/pexlab/`, one class per endpoint.

All are `APIHandler`s: JSON errors (`{"message": ...}`, no traceback), XSRF checked for
cookie-authenticated POST/DELETE, 403 instead of a login redirect. Ids are matched by strict
patterns in the routes *and* checked again in the handlers; everything else under /pexlab/ is
a JSON 404.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from tornado.web import HTTPError

from pexlab.environment import InspectionError

from .config import PACKAGE_NAME
from .kernels import KernelQueryError, UnknownKernel

if TYPE_CHECKING:
    from pexlab.environment import Environment

    from . import PexLabService
    from .jobs import Job
    from .kernels import KernelInterpreter

KERNEL_ID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
JOB_ID = r"[0-9a-f]{32}"
FINGERPRINT = r"[0-9a-f]{16,128}"
_KERNEL_RE = re.compile(rf"^{KERNEL_ID}$")
_JOB_RE = re.compile(rf"^{JOB_ID}$")
_FP_RE = re.compile(rf"^{FINGERPRINT}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_VISIBLE = re.compile(r"[^\x00-\x20\x7f]")
_OPTION_KEYS = {"exclude", "include", "compress", "include_editable"}


class PexLabHandler(APIHandler):
    @property
    def service(self) -> PexLabService:
        service: PexLabService = self.settings["pexlab"]
        return service

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 405:
            # RFC 9110: a 405 names the methods the resource does support.
            allowed = [
                m
                for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
                if getattr(type(self), m.lower())
                is not tornado.web.RequestHandler._unimplemented_method
            ]
            self.set_header("Allow", ", ".join(allowed))
        super().write_error(status_code, **kwargs)

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def read_json(self) -> dict[str, Any]:
        limit = self.service.config.max_body_bytes
        if len(self.request.body) > limit:
            raise HTTPError(413, f"Request body larger than {limit} bytes.")
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            raise HTTPError(400, "Request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise HTTPError(400, "Request body must be a JSON object.")
        return data

    def check_kernel_id(self, kernel_id: Any) -> str:
        if not isinstance(kernel_id, str) or not _KERNEL_RE.match(kernel_id):
            raise HTTPError(400, "kernel_id must be a kernel id (a UUID).")
        return kernel_id.lower()

    async def kernel_environment(self, kernel_id: str) -> tuple[KernelInterpreter, Environment]:
        try:
            return await self.service.kernels.environment(kernel_id)
        except UnknownKernel:
            raise HTTPError(404, f"No running kernel with id {kernel_id}.") from None
        except KernelQueryError as exc:
            raise HTTPError(409, str(exc)) from None
        except InspectionError as exc:
            raise HTTPError(422, str(exc)) from None


class EnvironmentHandler(PexLabHandler):
    @tornado.web.authenticated
    async def get(self, kernel_id: str) -> None:
        kernel_id = self.check_kernel_id(kernel_id)
        _interp, env = await self.kernel_environment(kernel_id)
        pex = await self.service.pex_state(env)
        data = env.to_json()
        data["distributions"] = [
            {
                "name": d.name,
                "version": d.version,
                "location": d.location,
                "installer": d.installer,
                "editable": d.editable is not None,
                "project_dir": d.editable.project_dir if d.editable else None,
                "warnings": list(d.warnings),
            }
            for d in env.distributions
        ]
        data["kernel_id"] = kernel_id
        data["python_version"] = env.version
        data["pex"] = pex
        self.write_json(data)


def _validate_options(raw: Any, default_excludes: list[str]) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise HTTPError(400, "options must be an object.")
    unknown = set(raw) - _OPTION_KEYS
    if unknown:
        raise HTTPError(400, f"Unknown option(s): {', '.join(sorted(map(str, unknown)))}.")
    out: dict[str, Any] = {}
    for key in ("exclude", "include"):
        value = raw.get(key, list(default_excludes) if key == "exclude" else [])
        if not isinstance(value, list) or len(value) > 200:
            raise HTTPError(400, f"options.{key} must be a list of at most 200 package names.")
        for name in value:
            if not isinstance(name, str) or not PACKAGE_NAME.match(name):
                raise HTTPError(400, f"options.{key}: {name!r} is not a package name.")
        out[key] = sorted(set(value))
    for key in ("compress", "include_editable"):
        if key in raw:
            if not isinstance(raw[key], bool):
                raise HTTPError(400, f"options.{key} must be true or false.")
            out[key] = raw[key]
    return out


def _validate_storage(raw: Any, default: str) -> str | None:
    if raw is None:
        return default or None
    # Same rule as the OpenAPI pattern: no control characters, not blank, at most 2048 chars.
    if (
        not isinstance(raw, str)
        or len(raw) > 2048
        or _CONTROL.search(raw)
        or not _VISIBLE.search(raw)
    ):
        raise HTTPError(
            400, "storage must be a URL of at most 2048 characters without control characters."
        )
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise HTTPError(400, "storage is not valid Unicode.") from None
    return raw.strip(" ")


class BuildsHandler(PexLabHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.write_json(
            {"builds": [self.service.job_json(j, brief=True) for j in self.service.jobs.list()]}
        )

    @tornado.web.authenticated
    async def post(self) -> None:
        body = self.read_json()
        unknown = set(body) - {"kernel_id", "storage", "options"}
        if unknown:
            raise HTTPError(400, f"Unknown field(s): {', '.join(sorted(map(str, unknown)))}.")
        kernel_id = self.check_kernel_id(body.get("kernel_id"))
        storage = _validate_storage(body.get("storage"), self.service.config.storage)
        options = _validate_options(body.get("options"), self.service.config.default_excludes)
        _interp, env = await self.kernel_environment(kernel_id)
        job, created = await self.service.start_build(kernel_id, env, storage, options)
        self.set_header("Location", self.base_url.rstrip("/") + f"/pexlab/builds/{job.id}")
        data = self.service.job_json(job)
        data["created"] = created
        # 202 either way: the job (new or the one already covering this artifact) runs or ran
        # in the background; `created` tells which.
        self.write_json(data, status=202)


class BuildHandler(PexLabHandler):
    def _job(self, job_id: str) -> Job:
        job = self.service.jobs.get(job_id) if _JOB_RE.match(job_id) else None
        if job is None:
            raise HTTPError(404, f"No build with id {job_id}.")
        return job

    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        self.write_json(self.service.job_json(self._job(job_id)))

    @tornado.web.authenticated
    async def delete(self, job_id: str) -> None:
        job = self._job(job_id)
        job = await self.service.jobs.cancel(job.id) or job
        self.write_json(self.service.job_json(job))


class ArtifactsHandler(PexLabHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        records = await asyncio.to_thread(self.service.cache.list)
        self.write_json(
            {"cache_dir": str(self.service.cache.root), "artifacts": [r.to_json() for r in records]}
        )


class ArtifactHandler(PexLabHandler):
    @tornado.web.authenticated
    async def delete(self, fingerprint: str) -> None:
        if not _FP_RE.match(fingerprint):
            raise HTTPError(404, "No such artifact.")
        if any(
            j.fingerprint == fingerprint and j.state in ("queued", "running")
            for j in self.service.jobs.list()
        ):
            raise HTTPError(409, "A build of this artifact is running; cancel it first.")
        removed = await asyncio.to_thread(self.service.cache.remove, fingerprint)
        if not removed:
            raise HTTPError(404, f"No artifact with fingerprint {fingerprint} in the cache.")
        self.service.jobs.forget_fingerprint(fingerprint)
        self.set_status(204)
        self.finish()


class NotFoundHandler(PexLabHandler):
    """Anything else under /pexlab/: a JSON 404 rather than the server's HTML page."""

    def _missing(self) -> None:
        raise HTTPError(404, "Not found.")

    @tornado.web.authenticated
    def get(self, *_args: str) -> None:
        self._missing()

    @tornado.web.authenticated
    def post(self, *_args: str) -> None:
        self._missing()

    @tornado.web.authenticated
    def put(self, *_args: str) -> None:
        self._missing()

    @tornado.web.authenticated
    def patch(self, *_args: str) -> None:
        self._missing()

    @tornado.web.authenticated
    def delete(self, *_args: str) -> None:
        self._missing()


def routes(base_url: str) -> list[tuple[str, type[PexLabHandler]]]:
    def url(path: str) -> str:
        return base_url.rstrip("/") + "/pexlab" + path

    return [
        (url(rf"/kernels/({KERNEL_ID})/environment/?"), EnvironmentHandler),
        (url(r"/builds/?"), BuildsHandler),
        (url(rf"/builds/({JOB_ID})/?"), BuildHandler),
        (url(r"/artifacts/?"), ArtifactsHandler),
        (url(rf"/artifacts/({FINGERPRINT})/?"), ArtifactHandler),
        (url(r"(/.*)?"), NotFoundHandler),
    ]
