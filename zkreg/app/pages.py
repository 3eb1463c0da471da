"""What the registry pages of `zkreg serve` show, read through the same library calls as `zkreg show`, `ls`,
`consensus` and `rep`: every manifest signature-checked (`Repo.manifest`), a ref whose manifest is gone or does not
verify left out, metrics split into recorded-proven and claimed (`proven_metrics`), consensus and trust from this
peer's trust roots. Values only: the HTML is `zkreg.serve.pages`' business, and every string here is
attacker-controlled text it must escape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zkreg.app.consensus import ConsensusRequest, consensus
from zkreg.app.graphs import LineageRequest, Link, lineage_graph, to_svg
from zkreg.app.metrics import MetricsRequest, ProvenMetric, proven_metrics
from zkreg.app.proofs import scores
from zkreg.app.repo import Repo
from zkreg.errors import GraphvizMissing, ZkregError
from zkreg.identity import public_key_from_did
from zkreg.registry.manifest import Manifest
from zkreg.reputation.consensus import Consensus
from zkreg.reputation.score import Reputation
from zkreg.zk.workflow import zk_section


@dataclass(frozen=True)
class Artefact:
    """One ref this peer holds, with its verified manifest."""

    manifest: Manifest
    visibility: str
    """"public weights", "private weights", "public" or "private rows"."""
    price: int | None
    """Credits per proof, for a zk model this peer serves; None otherwise."""


@dataclass(frozen=True)
class Catalogue:
    peer: str
    """This peer's did."""
    artefacts: tuple[Artefact, ...]
    """Newest first."""

    @property
    def offers(self) -> tuple[Artefact, ...]:
        """The models this peer proves inferences of, and their prices."""
        return tuple(item for item in self.artefacts if item.price is not None)


@dataclass(frozen=True)
class ManifestPage:
    artefact: Artefact
    author: Reputation
    zk_mode: str | None
    srs_kind: str | None
    proven: tuple[ProvenMetric, ...]
    claimed: dict[str, Any]
    consensus: Consensus
    lineage_svg: str | None
    """The lineage graph drawn by `dot` (labels escaped, see `zkreg.app.graphs`); None without Graphviz."""
    lineage_note: str | None
    """Why there is no graph."""


def visibility(manifest: Manifest) -> str:
    if manifest.kind == "dataset":
        return "private rows" if manifest.rows is not None and manifest.rows["visibility"] == "private" else "public"
    return f"{manifest.weights} weights"


def _artefact(manifest: Manifest, peer: str, default_price: int) -> Artefact:
    served = manifest.author == peer and manifest.zk is not None
    price = (default_price if manifest.price is None else manifest.price) if served else None
    return Artefact(manifest, visibility(manifest), price)


def catalogue(repo: Repo, default_price: int) -> Catalogue:
    """Every ref this peer holds whose manifest verifies, newest first. `default_price` is what `zkreg serve`
    asks for a model whose manifest names no price."""
    peer = repo.identity.did
    held: list[Artefact] = []
    for entry in repo.ls():
        try:
            held.append(_artefact(repo.manifest(entry.cid), peer, default_price))
        except ZkregError:
            continue  # a ref whose manifest is gone or damaged is not offered
    held.sort(key=lambda item: (item.manifest.created, item.manifest.cid), reverse=True)
    return Catalogue(peer, tuple(held))


def manifest_page(repo: Repo, ref: str, default_price: int, link: Link) -> ManifestPage:
    """One verified manifest with its author's trust, zk mode, metrics, consensus and lineage graph."""
    manifest = repo.manifest(repo.resolve(ref))
    reputation = scores(repo)
    metrics = proven_metrics(repo, MetricsRequest(manifest.cid, verify=False))
    section = zk_section(manifest)
    svg, note = None, None
    try:
        svg = to_svg(lineage_graph(repo, LineageRequest(manifest.cid), link))
    except GraphvizMissing as missing:
        note = missing.message
    return ManifestPage(
        artefact=_artefact(manifest, repo.identity.did, default_price),
        author=reputation.show(manifest.author),
        zk_mode=None if section is None else section.mode,
        srs_kind=None if section is None else section.srs_kind,
        proven=metrics.proven,
        claimed=metrics.claimed,
        consensus=consensus(repo, ConsensusRequest(manifest.cid), reputation),
        lineage_svg=svg,
        lineage_note=note,
    )


def top_identities(repo: Repo, limit: int) -> list[Reputation]:
    return scores(repo).top(limit)


def identity(repo: Repo, did: str) -> Reputation:
    public_key_from_did(did)
    return scores(repo).show(did)
