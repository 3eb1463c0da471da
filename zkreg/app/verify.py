"""Verify: re-check a held manifest and every block it names; with `attest`, the verdict goes to the ledger."""

from __future__ import annotations

from dataclasses import dataclass

from zkreg.app.repo import Repo
from zkreg.errors import IntegrityError
from zkreg.progress import SILENT, Progress
from zkreg.registry.dag import walk
from zkreg.registry.manifest import Manifest


@dataclass(frozen=True)
class VerifyRequest:
    ref: str
    attest: bool = False
    """Append the verdict (ok, or fail with the reason) to this identity's feed."""


@dataclass(frozen=True)
class VerifyResult:
    manifest: Manifest
    files: int
    bytes: int


def verify(repo: Repo, request: VerifyRequest, progress: Progress = SILENT) -> VerifyResult:
    """Check the manifest (CID, canonical form, schema, signature) and re-hash every block it names: each file's
    DAG and the directory nodes of its tree.

    With `attest`, the verdict (ok, or fail with the reason) is appended to this identity's feed.
    """
    cid = repo.resolve(request.ref)
    try:
        manifest = repo.manifest(cid)
        total = 0
        for file_name, file_cid in manifest.files.items():
            total += repo.store.verify_file(file_cid, manifest.sizes[file_name], progress)
        for _ in walk(repo.store.get_block, [manifest.tree], skip=manifest.files.values()):
            pass  # every directory node of the tree, HAMT shards included, is held and hashes to its CID
    except IntegrityError as error:
        if request.attest:
            repo.ledger.append(
                repo.identity, "attest", {"subject": cid, "verdict": "fail", "details": error.message[:2048]}
            )
        raise
    if request.attest:
        details = f"{len(manifest.files)} files, {total} bytes verified"
        repo.ledger.append(repo.identity, "attest", {"subject": cid, "verdict": "ok", "details": details})
    return VerifyResult(manifest, len(manifest.files), total)
