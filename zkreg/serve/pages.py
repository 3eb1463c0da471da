"""The read-only registry pages of `zkreg serve` (`/`, `/m/{ref}`, `/rep`, `/rep/{did}`): server-rendered HTML,
no script.

Safe by construction, twice over: Jinja2 autoescapes every value (names, versions, messages, file paths and
metric names are attacker-controlled), and every answer carries a Content-Security-Policy that allows no script
at all, so even a value that slipped through could not run. The one piece of markup not escaped here is the
lineage graph, SVG that `dot` wrote from labels `zkreg.app.graphs` escaped and `dot` XML-escapes again; its links
are built only from CIDs. The values come from `zkreg.app.pages`, which reads them through the library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, Path
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from zkreg.app import pages
from zkreg.serve.patterns import DID_PATTERN, REF_PATTERN

if TYPE_CHECKING:
    from collections.abc import Callable

    from zkreg.app.provider import Provider

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; script-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""No script, no plugin, no form, no framing: the pages are documents and nothing more. Inline style only (the
one stylesheet is in the page, and `dot`'s SVG carries its own attributes)."""

HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

TEMPLATES = Environment(
    loader=PackageLoader("zkreg.serve", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def manifest_link(cid: str) -> str:
    return f"/m/{cid}"


def _inline_svg(svg: str | None) -> Markup | None:
    """`dot`'s SVG document without its XML prolog and doctype, to sit inside the page."""
    if svg is None:
        return None
    return Markup(svg[svg.index("<svg") :])  # noqa: S704 - dot's output from escaped labels (module docstring)


def add_pages(app: FastAPI, the_provider: Callable[[], Provider]) -> None:
    """Register the HTML routes (left out of the OpenAPI document: they are for people, not clients)."""

    def render(template: str, **values: Any) -> HTMLResponse:
        provider = the_provider()
        html = TEMPLATES.get_template(template).render(peer=provider.did, **values)
        return HTMLResponse(html, headers=HEADERS)

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        provider = the_provider()
        with provider.repo() as repo:
            listing = pages.catalogue(repo, provider.policy.default_price)
        return render("index.html", catalogue=listing)

    @app.get("/m/{ref}", include_in_schema=False)
    def manifest(ref: Annotated[str, Path(pattern=REF_PATTERN)]) -> HTMLResponse:
        provider = the_provider()
        with provider.repo() as repo:
            page = pages.manifest_page(repo, ref, provider.policy.default_price, manifest_link)
        return render("manifest.html", page=page, lineage=_inline_svg(page.lineage_svg))

    @app.get("/rep", include_in_schema=False)
    def reputation() -> HTMLResponse:
        with the_provider().repo() as repo:
            ranked = pages.top_identities(repo, 50)
        return render("reputation.html", ranked=ranked)

    @app.get("/rep/{did}", include_in_schema=False)
    def identity(did: Annotated[str, Path(pattern=DID_PATTERN)]) -> HTMLResponse:
        with the_provider().repo() as repo:
            reputation = pages.identity(repo, did)
        return render("identity.html", rep=reputation)
