"""Garbage collection: remove the blocks no held manifest or receipted proof reaches."""

from __future__ import annotations

import time
from dataclasses import dataclass

from zkreg.app.repo import Repo
from zkreg.errors import IntegrityError, NotFound
from zkreg.registry.cid import DAG_CBOR, DAG_PB, codec_of
from zkreg.registry.dag import walk

GC_GRACE_NS = 2_000_000_000
"""Blocks touched this long before `gc` began are kept too: file times come from a coarser clock than ours."""


@dataclass(frozen=True)
class GcRequest:
    dry_run: bool = True
    """Only count what would go (the default); `zkreg gc --yes` passes False."""
    started_ns: int | None = None
    """When the collection began (ns since the epoch); default: now. A dry run's `started_ns` makes the real run
    keep exactly what was stored after the dry run began."""


@dataclass(frozen=True)
class GcResult:
    blocks: int
    bytes: int
    deleted: bool
    """False for a dry run: `blocks` and `bytes` are what would go."""
    started_ns: int
    """When the collection began (ns since the epoch): blocks stored since then, or shortly before, are kept."""


def gc(repo: Repo, request: GcRequest) -> GcResult:
    """Remove blocks that no held manifest reaches (files, tree, history, dataset, zk artefacts) and that are
    no proof bundle a receipt names (unless it was judged not to verify): what failed publishes, unlinked CAR
    blocks and the like leave. A dry run (default) only counts them.

    Safe against a concurrent publish: blocks stored or stored again since the collection began (or just
    before) are left alone, and the deletion runs inside the index's write transaction after the set to
    keep is computed again, so a manifest recorded meanwhile keeps its blocks.
    """
    started_ns = time.time_ns() if request.started_ns is None else request.started_ns
    before_ns = started_ns - GC_GRACE_NS
    garbage = _unreachable_blocks(repo)
    sizes = {cid: repo.store.size_of(cid) for cid in garbage}
    old = {cid: size for cid, size in sizes.items() if size is not None and size[1] < before_ns}
    if request.dry_run:
        return GcResult(len(old), sum(size for size, _ in old.values()), False, started_ns)
    removed: list[tuple[str, int]] = []
    with repo.index.transaction() as index:
        still_garbage = _unreachable_blocks(repo)
        for cid in sorted(set(old) & still_garbage):
            size = repo.store.remove_untouched(cid, before_ns)
            if size is not None:
                removed.append((cid, size))
        index.remove_blocks(cid for cid, _ in removed)
    repo.store.reclaim_packs()  # once the rows are gone for good: a rollback must find its packs still there
    return GcResult(len(removed), sum(size for _, size in removed), True, started_ns)


def _unreachable_blocks(repo: Repo) -> set[str]:
    """Held blocks that nothing to keep reaches."""
    held = set(repo.store.held())
    manifests = {cid for cid in held if codec_of(cid) == DAG_CBOR and _holds_manifest(repo, cid)}
    keep = walk(
        repo.store.get_block,
        [*sorted(manifests), *_kept_proofs(repo)],
        held=held.__contains__,
        follow=lambda cid: codec_of(cid) == DAG_PB or cid in manifests,
        on_broken=lambda cid: None,  # what does not decode links to nothing
    )
    return held - set(keep)


def _holds_manifest(repo: Repo, cid: str) -> bool:
    try:
        repo.manifest(cid)
    except (IntegrityError, NotFound):
        return False
    return True


def _kept_proofs(repo: Repo) -> list[str]:
    """Proof bundles named by receipts, except those judged not to verify."""
    return sorted(repo.ledger.receipt_proofs() - repo.ledger.failed_proofs())
