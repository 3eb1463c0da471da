"""Walking DAGs: the one traversal (`walk`) and the one link decoder (`links_of`) behind export, gc's keep set,
failed-publish cleanup, the provider's servable set and fetching from a peer. Callers keep their policies: which
blocks to read for links (`follow`), what counts as held, and what a missing or undecodable block means."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from zkreg.codecs import dagcbor
from zkreg.errors import IntegrityError, NotFound
from zkreg.registry.cid import DAG_CBOR, DAG_PB, RAW, cid_from_binary, cid_from_str
from zkreg.registry.unixfs import node_links

GetBlock = Callable[[str], bytes]
CODECS = (RAW, DAG_PB, DAG_CBOR)


def links_of(cid: str, block: bytes) -> list[str]:
    """The CIDs a block links to (dag-pb links, DAG-CBOR tag-42 links; raw blocks have none)."""
    codec = cid_from_str(cid)[1]
    if codec == RAW:
        return []
    if codec == DAG_PB:
        return [cid_from_binary(binary) for binary in node_links(block)]
    found: list[str] = []
    stack: list[Any] = [dagcbor.decode(block, what=f"block {cid}")]
    while stack:
        item = stack.pop()
        if dagcbor.is_link(item):
            found.append(dagcbor.unlink(item))
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return found


def _has_links(cid: str) -> bool:
    return cid_from_str(cid)[1] != RAW


def walk(
    get_block: GetBlock,
    roots: Iterable[str],
    *,
    held: Callable[[str], bool] | None = None,
    follow: Callable[[str], bool] = _has_links,
    skip: Iterable[str] = (),
    on_missing: Callable[[str], None] | None = None,
    on_broken: Callable[[str], None] | None = None,
) -> Iterator[str]:
    """Every CID reachable from `roots`, each once, parents before children (the order `dag export` uses).

    A CID that is not `held` is not yielded (it goes to `on_missing`) and its links stay unknown. The block of a
    CID for which `follow` says so is read for its links (raw leaves have none, so by default are never read).
    A block that is absent or does not decode raises, unless `on_broken` takes it (then it links to nothing).
    The DAGs under the CIDs in `skip` are left out.
    """
    seen = set(skip)
    stack = list(roots)
    stack.reverse()
    while stack:
        cid = stack.pop()
        if cid in seen:
            continue
        seen.add(cid)
        if held is not None and not held(cid):
            if on_missing is not None:
                on_missing(cid)
            continue
        links: list[str] = []
        if follow(cid):
            try:
                links = links_of(cid, get_block(cid))
            except (IntegrityError, NotFound):
                if on_broken is None:
                    raise
                on_broken(cid)
        yield cid
        links.reverse()
        stack.extend(links)
