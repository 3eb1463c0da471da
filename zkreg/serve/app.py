"""The HTTP adapter of `zkreg serve`: routes onto `zkreg.app.provider.Provider`, errors onto status codes.

No checks of its own beyond HTTP's: a body is read only up to its cap and within its time limit (a slow client is
cut off with 408), then handed to the provider. Blocking work (SQLite, proving) runs in the thread pool.
"""

from __future__ import annotations

import asyncio
import base64
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

import zkreg
from zkreg.errors import RequestTimeout, RequestTooLarge, ServerBusy, Throttled, ZkregError
from zkreg.peer.envelope import parse_body
from zkreg.schemas import load as load_schema
from zkreg.serve.pages import add_pages
from zkreg.serve.patterns import CID_PATTERN, DID_PATTERN, REF_PATTERN

if TYPE_CHECKING:
    from zkreg.app.provider import Provider

CAR_TYPE = "application/vnd.ipld.car"
LAST_SEQ_HEADER = "x-zkreg-last-seq"

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "exit_code"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "hint": {"type": "string"},
                "exit_code": {"type": "integer", "description": "what the zkreg CLI exits with for this error"},
            },
        }
    },
}


def _request_schema() -> dict[str, Any]:
    schema = load_schema("request.v1")
    return {key: value for key, value in schema.items() if key not in ("$schema", "$id")}


def error_response(error: ZkregError) -> JSONResponse:
    body = error.to_json()
    details = body["error"]
    assert isinstance(details, dict)
    details["exit_code"] = error.exit_code
    status = type(error).http_status
    headers = {}
    if isinstance(error, ServerBusy | Throttled):
        headers["Retry-After"] = str(error.retry_after)
    return JSONResponse(body, status_code=status, headers=headers)


async def read_body(request: Request, cap: int, timeout_s: float) -> bytes:
    """The request body, refused past `cap` bytes (before reading, if Content-Length says so) or `timeout_s`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise RequestTooLarge(f"request body of {declared} bytes exceeds the {cap}-byte cap")

    async def collect() -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise RequestTooLarge(f"request body exceeds the {cap}-byte cap")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(collect(), timeout_s)
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {timeout_s:g} s") from None


def create_app(provider: Provider | None = None) -> FastAPI:
    """The ASGI app over `provider` (None only to render the OpenAPI document)."""
    app = FastAPI(
        title="zkreg peer API",
        version=zkreg.__version__,
        description="Reputation-gated zero-knowledge inference proofs, feed sync and public artefacts of one "
        'zkreg peer. Errors are `{"error": {"code", "message", "exit_code"}}`.',
    )

    def the_provider() -> Provider:
        assert provider is not None, "create_app(None) is for rendering the OpenAPI document only"
        return provider

    @app.exception_handler(ZkregError)
    async def zkreg_error(_: Request, error: ZkregError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = "/".join(str(part) for part in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}"
        return JSONResponse({"error": {"code": "usage", "message": message, "exit_code": 2}}, status_code=422)

    @app.get("/healthz", summary="Liveness, and this peer's identity")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "did": the_provider().did, "version": zkreg.__version__}

    @app.get("/v1/feeds/heads", summary="The head of every feed this peer holds")
    def feed_heads() -> dict[str, Any]:
        return {"heads": [head.to_json() for head in the_provider().heads()]}

    @app.get(
        "/v1/feeds/{author}",
        summary="A page of one feed after a seq, and the evidence held against it, as a CAR",
        response_class=Response,
        responses={200: {"content": {CAR_TYPE: {"schema": {"type": "string", "format": "binary"}}}}},
    )
    def feed_page(
        author: Annotated[str, Path(pattern=DID_PATTERN)],
        after: Annotated[int, Query(ge=0, le=2**53)] = 0,
        limit: Annotated[int | None, Query(ge=1, le=50_000, description="default 10,000")] = None,
    ) -> Response:
        car, last = the_provider().feed_car(author, after, limit)
        return Response(car, media_type=CAR_TYPE, headers={LAST_SEQ_HEADER: str(last)})

    @app.post(
        "/v1/feeds",
        summary="Push feed entries (a CAR); only valid extensions are applied",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {CAR_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    )
    async def feed_push(request: Request) -> dict[str, Any]:
        chosen = the_provider()
        body = await read_body(request, chosen.limits.max_push_bytes, chosen.limits.body_timeout_s)
        report = await run_in_threadpool(chosen.accept_feeds, body)
        return report.to_json()

    @app.get("/v1/manifests/{ref}", summary="A manifest this peer holds, by CID, name@version or name")
    def manifest(ref: Annotated[str, Path(pattern=REF_PATTERN)]) -> dict[str, Any]:
        cid, block = the_provider().manifest(ref)
        return {"cid": cid, "block": base64.b64encode(block).decode()}

    @app.get(
        "/v1/blocks/{cid}",
        summary="A block of a public artefact (never private weights, circuits or proving keys)",
        response_class=Response,
        responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
    )
    def block(cid: Annotated[str, Path(pattern=CID_PATTERN)]) -> Response:
        return Response(the_provider().block(cid), media_type="application/octet-stream")

    add_pages(app, the_provider)

    signed_body = {"requestBody": {"required": True, "content": {"application/json": {"schema": _request_schema()}}}}

    @app.post(
        "/v1/prove",
        summary="A zero-knowledge proof of an inference by one of this peer's models (a signed request), if the "
        "requester's Proof of Reputation covers the price",
        openapi_extra=signed_body,
    )
    async def prove(request: Request) -> dict[str, Any]:
        chosen = the_provider()
        body = await read_body(request, chosen.limits.max_body_bytes, chosen.limits.body_timeout_s)
        return await run_in_threadpool(chosen.prove, parse_body(body))

    @app.post(
        "/v1/receipts",
        summary="A receipt for an artefact of this peer that the requester fetched (a signed request)",
        openapi_extra=signed_body,
    )
    async def receipts(request: Request) -> dict[str, Any]:
        chosen = the_provider()
        body = await read_body(request, chosen.limits.max_body_bytes, chosen.limits.body_timeout_s)
        return await run_in_threadpool(chosen.deliver_receipt, parse_body(body))

    def openapi() -> dict[str, Any]:
        """FastAPI's document, with its validation-error schema replaced by ours (every error has one shape)."""
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.pop("ValidationError", None)
            schemas["HTTPValidationError"] = ERROR_SCHEMA
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
