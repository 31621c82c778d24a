"""REST handlers under `<base_url>/pexlab/`, one class per endpoint.

All are `APIHandler`s: JSON errors (`{"message": ...}`, no traceback), XSRF checked for
cookie-authenticated POST/DELETE, 403 instead of a login redirect. Every method is
authenticated AND authorized (`@authorized`, so JupyterHub's role-based sharing or a custom
`Authorizer` decides): reading lists is "read" on "pexlab"; asking a kernel about its
environment runs a (silent) request in that kernel, so it is "execute" on "kernels"; starting a
build runs pex and uploads with the server's credentials, "execute" on "pexlab"; cancelling or
deleting is "write". Ids are matched by strict patterns in the routes *and* checked again in the
handlers; everything else under /pexlab/ is a JSON 404.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado.web import HTTPError

from pexlab.environment.interpreter import Environment, InspectionError

from .job import Job
from .kernels import KernelInterpreter, KernelQueryError, UnknownKernel
from .resolve import Partial, RequestError, Resolved, parse_partial

if TYPE_CHECKING:
    from .service import PexLabService

AUTH_RESOURCE = "pexlab"
# The environment and stamp queries run a silent request in the kernel: authorized like
# running code there.
KERNEL_RESOURCE = "kernels"
KERNEL_ID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
JOB_ID = r"[0-9a-f]{32}"
FINGERPRINT = r"[0-9a-f]{16,128}"
_KERNEL_RE = re.compile(rf"^{KERNEL_ID}$")
_JOB_RE = re.compile(rf"^{JOB_ID}$")
_FP_RE = re.compile(rf"^{FINGERPRINT}$")
_Method = TypeVar("_Method", bound=Callable[..., Any])


def authorize(action: str, resource: str | None = None) -> Callable[[_Method], _Method]:
    """jupyter_server's `@authorized(action, resource)`, with the type it lacks (the resource
    defaults to the handler's `auth_resource`)."""
    return cast(Callable[[_Method], _Method], authorized(action, resource=resource))


class PexLabHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def service(self) -> PexLabService:
        return cast("PexLabService", self.settings["pexlab_service"])

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

    def resolve(self, options: Any, storage: Any) -> Resolved:
        """Validate the user's partial options and the storage, resolve them with the server's
        settings (400 for malformed input, 422 for storage the server does not allow)."""
        try:
            partial: Partial = parse_partial(options)
            return self.service.resolve(partial, storage)
        except RequestError as exc:
            raise HTTPError(exc.status, str(exc)) from None

    async def kernel_interpreter(self, kernel_id: str) -> KernelInterpreter:
        try:
            return await self.service.kernels.interpreter(kernel_id)
        except UnknownKernel:
            raise HTTPError(404, f"No running kernel with id {kernel_id}.") from None
        except KernelQueryError as exc:
            raise HTTPError(409, str(exc)) from None

    async def kernel_environment(self, kernel_id: str) -> Environment:
        interp = await self.kernel_interpreter(kernel_id)
        try:
            return await self.service.kernels.inspect(interp.python)
        except InspectionError as exc:
            raise HTTPError(422, str(exc)) from None


class EnvironmentHandler(PexLabHandler):
    @tornado.web.authenticated
    @authorize("execute", resource=KERNEL_RESOURCE)
    async def get(self, kernel_id: str) -> None:
        kernel_id = self.check_kernel_id(kernel_id)
        raw = self.get_query_argument("options", None)
        try:
            options = None if raw is None else json.loads(raw)
        except ValueError:
            raise HTTPError(400, "The options query parameter is not valid JSON.") from None
        try:
            partial = parse_partial(options)
            resolved, storage_error = self.service.resolve_for_display(
                partial, self.get_query_argument("storage", None)
            )
        except RequestError as exc:
            raise HTTPError(exc.status, str(exc)) from None
        raw_master = self.get_query_argument("master", None)
        if raw_master is not None and len(raw_master) > 2048:
            raise HTTPError(400, "master must be at most 2048 characters.")
        master, kind, master_error = self.service.resolve_master(raw_master)
        env = await self.kernel_environment(kernel_id)
        if storage_error is None:
            storage_error = await self.service.storage_error(resolved.storage)
        errors = {k: v for k, v in (("master", master_error), ("storage", storage_error)) if v}
        fp = await self.service.fingerprint_for(env, resolved.options)
        names = await self.service.zip_names(env)
        self.service.asked[kernel_id] = resolved
        data = env.to_json()
        data["distributions"] = [
            {
                "name": d.name,
                "version": d.version,
                "location": d.location,
                "installer": d.installer,
                "editable": d.editable is not None,
                "project_dir": d.editable.project_dir if d.editable else None,
                "zip": names.get(d.name) if d.editable else None,
                "warnings": list(d.warnings),
            }
            for d in env.distributions
        ]
        data["kernel_id"] = kernel_id
        data["python_version"] = env.version
        data["pex"] = await self.service.pex_state(env, fp)
        data["build"] = self.service.build_json(resolved, fp, master, kind, errors)
        # The newest job for exactly these artifacts (a failure for other options, storage,
        # packages or editable code is another request's, and is not shown for this one).
        job = self.service.jobs.latest(
            fp,
            resolved.storage,
            resolved.include_editable,
            self.service.editables_key(resolved, names),
        )
        data["build"]["job"] = None if job is None else self.service.job_json(job, brief=True)
        data["excluded"] = self.service.excluded_json(env, resolved)
        data["pexlab"] = self.service.pexlab_json(env)
        data["stamp"] = self.service.stamp(env)
        self.write_json(data)


class StampHandler(PexLabHandler):
    """A cheap change stamp of a kernel's environment, for polling: a `pip install` in a
    terminal changes it without the panel re-inspecting anything."""

    @tornado.web.authenticated
    @authorize("execute", resource=KERNEL_RESOURCE)
    async def get(self, kernel_id: str) -> None:
        kernel_id = self.check_kernel_id(kernel_id)
        interp = await self.kernel_interpreter(kernel_id)
        env = self.service.kernels.last_inspection(interp.python)
        if env is None:  # never inspected by this server: once, then the stamp is cheap
            env = await self.kernel_environment(kernel_id)
        stamp = await asyncio.to_thread(self.service.stamp, env)
        self.write_json({"kernel_id": kernel_id, "python": interp.python, "stamp": stamp})


class BuildsHandler(PexLabHandler):
    @tornado.web.authenticated
    @authorize("read")
    async def get(self) -> None:
        self.write_json(
            {"builds": [self.service.job_json(j, brief=True) for j in self.service.jobs.list()]}
        )

    @tornado.web.authenticated
    @authorize("execute")
    async def post(self) -> None:
        body = self.read_json()
        unknown = set(body) - {"kernel_id", "storage", "options"}
        if unknown:
            raise HTTPError(400, f"Unknown field(s): {', '.join(sorted(map(str, unknown)))}.")
        kernel_id = self.check_kernel_id(body.get("kernel_id"))
        resolved = self.resolve(body.get("options"), body.get("storage"))
        env = await self.kernel_environment(kernel_id)
        job, created = await self.service.start_build(kernel_id, env, resolved)
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
    @authorize("read")
    async def get(self, job_id: str) -> None:
        self.write_json(self.service.job_json(self._job(job_id)))

    @tornado.web.authenticated
    @authorize("write")
    async def delete(self, job_id: str) -> None:
        job = self._job(job_id)
        cancelled = await self.service.jobs.cancel(job.id)
        self.write_json(self.service.job_json(cancelled or job))


class ArtifactsHandler(PexLabHandler):
    """The cache as it is now (builds made by kernels, the CLI or the panel alike), PEX files
    and editable zips. With `?kernel_id=` the kernel's live environment, with the options of
    its last environment request, decides which are `current`; `?fingerprint=` marks that PEX."""

    @tornado.web.authenticated
    @authorize("read")
    async def get(self) -> None:
        current = self.get_query_argument("fingerprint", None)
        kernel_id = self.get_query_argument("kernel_id", None)
        if current is not None and not _FP_RE.match(current):
            raise HTTPError(400, "fingerprint must be a lowercase hex fingerprint.")
        names: dict[str, str] | None = None
        if kernel_id is not None:
            kernel_id = self.check_kernel_id(kernel_id)
            env = await self._live_environment(kernel_id)
            if env is not None:
                resolved = self.service.asked.get(kernel_id) or self.service.resolve(
                    Partial(), None
                )
                names = await self.service.zip_names(env)
                if not resolved.include_editable:
                    names = {}
                if current is None:
                    current = await self.service.fingerprint_for(env, resolved.options)
        records = await asyncio.to_thread(self.service.cache.list)
        artifacts = []
        for record in records:
            data = record.to_json()
            data["current"] = current is not None and record.fingerprint == current
            artifacts.append(data)
        editables = await asyncio.to_thread(self.service.editable_zips_json, names)
        self.write_json(
            {
                "cache_dir": str(self.service.cache.root),
                "artifacts": artifacts,
                "editables": editables,
            }
        )

    async def _live_environment(self, kernel_id: str) -> Environment | None:
        """The kernel's environment now (the warm inspection path), or None when the kernel is
        gone, busy or cannot be inspected: then nothing is marked current."""
        try:
            return await self.kernel_environment(kernel_id)
        except HTTPError:
            return None


class ArtifactHandler(PexLabHandler):
    @tornado.web.authenticated
    @authorize("write")
    async def delete(self, fingerprint: str) -> None:
        if not _FP_RE.match(fingerprint):
            raise HTTPError(404, "No such artifact.")
        if any(
            j.fingerprint == fingerprint and j.state in ("queued", "running")
            for j in self.service.jobs.list()
        ) or await asyncio.to_thread(self.service.cache.is_building, fingerprint):
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
    @authorize("read")
    def get(self, *_args: str) -> None:
        self._missing()

    @tornado.web.authenticated
    @authorize("read")
    def post(self, *_args: str) -> None:
        self._missing()

    @tornado.web.authenticated
    @authorize("read")
    def put(self, *_args: str) -> None:
        self._missing()

    @tornado.web.authenticated
    @authorize("read")
    def patch(self, *_args: str) -> None:
        self._missing()

    @tornado.web.authenticated
    @authorize("read")
    def delete(self, *_args: str) -> None:
        self._missing()


def routes() -> list[tuple[str, type[PexLabHandler]]]:
    """URL patterns relative to the server's base URL (the ExtensionApp prefixes it)."""

    def url(path: str) -> str:
        return "/pexlab" + path

    return [
        (url(rf"/kernels/({KERNEL_ID})/environment/?"), EnvironmentHandler),
        (url(rf"/kernels/({KERNEL_ID})/stamp/?"), StampHandler),
        (url(r"/builds/?"), BuildsHandler),
        (url(rf"/builds/({JOB_ID})/?"), BuildHandler),
        (url(r"/artifacts/?"), ArtifactsHandler),
        (url(rf"/artifacts/({FINGERPRINT})/?"), ArtifactHandler),
        (url(r"(/.*)?"), NotFoundHandler),
    ]
