"""Run an ASGI app under a real uvicorn server on an ephemeral loopback port (the package's
helper, which live-mode scenario runs use too)."""

from __future__ import annotations

from sandbox.engine.servers import serve_app as serve

__all__ = ["serve"]
