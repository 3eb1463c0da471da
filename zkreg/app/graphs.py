"""Pictures: a manifest's lineage (its parents and datasets, transitively) and the trust graph around an identity,
as Graphviz graphs drawn to SVG by Graphviz's `dot`.

Every label is attacker-controlled text (a name, a version, a did), so it goes through `graphviz.escape`: its
backslashes are doubled (no `\\N`-style escape expands) and it is never taken for an HTML-like label. `dot` then
XML-escapes it into the SVG, which is why `zkreg serve` may inline that SVG in a page (docs/design.md, Serving).
Node links (`href`) are only ever built from CIDs and dids, which match fixed patterns. Nodes are named `n0`,
`n1`, ... (a did's colons would read as Graphviz's `node:port`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import graphviz

from zkreg.app.proofs import scores
from zkreg.app.repo import Repo
from zkreg.errors import GraphvizMissing, ZkregError
from zkreg.fsutil import atomic_write
from zkreg.identity import public_key_from_did

MAX_LINEAGE_NODES = 64
"""A lineage graph stops growing here: a manifest names at most 16 parents, each with its own, and a page must stay
readable and cheap to draw."""
MAX_TRUST_EDGES = 48
"""The strongest edges into and out of the identity, at most this many."""

Link = Callable[[str], str]
"""A node's link target from its CID or did (the page routes); None draws no links."""


@dataclass(frozen=True)
class LineageRequest:
    ref: str
    """Manifest CID, `name@version` or `name` (latest)."""


@dataclass(frozen=True)
class TrustGraphRequest:
    identity: str | None = None
    """A did:key; None: this peer's own identity."""


def lineage_graph(repo: Repo, request: LineageRequest, link: Link | None = None) -> graphviz.Digraph:
    """The manifest, its parents and its dataset, and theirs, as far as this peer holds them (each manifest
    signature-checked; one that is not held or does not verify is drawn as its bare CID, dashed)."""
    graph = graphviz.Digraph("lineage", graph_attr={"rankdir": "BT"}, node_attr={"shape": "box", "fontsize": "11"})
    start = repo.resolve(request.ref)
    queue, seen = [start], {start}
    ids = _NodeIds()
    while queue:
        cid = queue.pop(0)
        try:
            manifest = repo.manifest(cid)
        except ZkregError:
            graph.node(ids[cid], graphviz.escape(f"{cid[:16]}… (not held)"), style="dashed")
            continue
        label = f"{manifest.kind} {manifest.name}@{manifest.version}"
        attrs = {"href": link(cid)} if link else {}
        graph.node(ids[cid], graphviz.escape(label), style="bold" if cid == start else "solid", **attrs)
        sources = [(parent, "parent") for parent in manifest.parents]
        if manifest.dataset:
            sources.append((manifest.dataset, "dataset"))
        for source, kind in sources:
            graph.edge(ids[cid], ids[source], label=kind, fontsize="9")
            if source not in seen and len(seen) < MAX_LINEAGE_NODES:
                seen.add(source)
                queue.append(source)
    return graph


def trust_graph(repo: Repo, request: TrustGraphRequest, link: Link | None = None) -> graphviz.Digraph:
    """The trust edges into and out of an identity (the strongest `MAX_TRUST_EDGES`), weighted as the scores
    weigh them, from this peer's trust roots; roots drawn bold, forked identities crossed out in red."""
    identity = request.identity or repo.identity.did
    public_key_from_did(identity)
    reputation = scores(repo)
    edges = sorted(
        (
            (source, target, weight)
            for (source, target), weight in reputation.edges.items()
            if identity in (source, target)
        ),
        key=lambda edge: (-edge[2], edge[0], edge[1]),
    )[:MAX_TRUST_EDGES]
    graph = graphviz.Digraph("trust", graph_attr={"rankdir": "LR"}, node_attr={"shape": "box", "fontsize": "10"})
    ids = _NodeIds()
    for did in sorted({identity} | {source for source, _, _ in edges} | {target for _, target, _ in edges}):
        label = f"{did[:8]}…{did[-6:]}\ntrust {reputation.trust.get(did, 0.0):.4f}"
        attrs = {"href": link(did)} if link else {}
        if did in reputation.forked:
            attrs |= {"color": "red", "fontcolor": "red"}
            label += "\nFORKED"
        style = "bold" if did in reputation.roots or did == identity else "solid"
        graph.node(ids[did], graphviz.escape(label), style=style, tooltip=did, **attrs)
    for source, target, weight in edges:
        graph.edge(ids[source], ids[target], label=f"{weight:.3f}", fontsize="9")
    return graph


class _NodeIds(dict[str, str]):
    """CID or did -> `n0`, `n1`, ... in order of first use."""

    def __missing__(self, key: str) -> str:
        self[key] = f"n{len(self)}"
        return self[key]


def to_svg(graph: graphviz.Digraph) -> str:
    """The graph drawn by `dot`, as SVG text."""
    try:
        svg: str = graph.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        raise GraphvizMissing(
            "drawing a graph needs Graphviz's `dot`", hint="install it: apt-get install graphviz"
        ) from None
    return svg


def write_svg(graph: graphviz.Digraph, path: Path) -> Path:
    """Draw the graph to `path` (atomically: the file is whole or as it was)."""
    atomic_write(path, to_svg(graph).encode())
    return path
