"""The HTTP service of `zkreg serve`: an ASGI app (FastAPI) that adapts `zkreg.app.provider` to routes."""
