"""Jupyter Server extension of pexlab: kernel environments, PEX build jobs and artifacts over REST.

Loaded by Jupyter Server through `pexlab._jupyter_server_extension_points` -> `PexLabApp`.
It calls the engine (inspection, fingerprint, cache, the `pexlab build` CLI); it never
reimplements it.
"""

from __future__ import annotations

import atexit

from jupyter_server.extension.application import ExtensionApp

from .handlers import routes
from .service import EVENT_SCHEMA_ID, SERVICE_KEY, PexLabService


class PexLabApp(ExtensionApp):
    """The server extension. An ExtensionApp (not a bare load function) because only those get
    Jupyter Server's stop hook: builds run in their own process groups and must not outlive
    the server."""

    name = "pexlab"
    load_other_extensions = True

    def initialize_settings(self) -> None:
        self.service = PexLabService(self.serverapp)
        self.settings[SERVICE_KEY] = self.service
        # A crash skips stop_extension; an ordinary interpreter exit without it must still
        # leave no build running.
        atexit.register(self.service.jobs.kill_all)
        self.log.info("pexlab: server extension loaded (cache %s)", self.service.cache.root)

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes())

    async def stop_extension(self) -> None:
        await self.service.shutdown()


__all__ = ["EVENT_SCHEMA_ID", "PexLabApp", "PexLabService"]
