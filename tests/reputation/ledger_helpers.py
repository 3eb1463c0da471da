"""Deterministic identities and hand-built feeds for the ledger tests (real keys, real signatures)."""

from __future__ import annotations

import hashlib
from typing import Any

import nacl.signing

from zkreg.identity import Identity
from zkreg.registry.cid import DAG_CBOR, compute
from zkreg.reputation.entry import Entry, sign_entry

T0 = 1_764_000_000_000
"""2025-11-24, ms: a plausible time for every hand-built entry."""


def identity(name: str) -> Identity:
    return Identity(nacl.signing.SigningKey(hashlib.sha256(name.encode()).digest()))


def manifest_cid(name: str) -> str:
    return compute(DAG_CBOR, name.encode())


def endorse(peer: Identity | str, weight: int = 1) -> tuple[str, dict[str, Any]]:
    return "endorse", {"peer": peer if isinstance(peer, str) else peer.did, "weight": weight}


def feed(
    signer: Identity,
    items: list[tuple[str, dict[str, Any]]],
    *,
    after: Entry | None = None,
    author: str | None = None,
    ts: int | None = None,
) -> list[Entry]:
    """Entries continuing `after` (or starting a feed), signed by `signer` for feed `author` (default: signer)."""
    entries: list[Entry] = []
    feed_author = author or (after.author if after else signer.did)
    previous = after
    start = ts if ts is not None else (after.ts + 1 if after else T0)
    for offset, (type_, body) in enumerate(items):
        entry = sign_entry(
            signer,
            seq=previous.seq + 1 if previous else 1,
            prev=previous.cid if previous else None,
            ts=start + offset,
            type_=type_,
            body=body,
            author=feed_author,
        )
        entries.append(entry)
        previous = entry
    return entries


def blocks(entries: list[Entry]) -> list[bytes]:
    return [entry.block for entry in entries]


def publishes(signer: Identity, count: int, **kwargs: Any) -> list[Entry]:
    """A feed of `count` publish entries by `signer`."""
    return feed(signer, [("publish", {"manifest": manifest_cid(f"{signer.did}/{n}")}) for n in range(count)], **kwargs)
