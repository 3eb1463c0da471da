"""The HTTP service of `zkreg serve`: an ASGI app (FastAPI) that adapts `zkreg.peer.provider` to routes."""
