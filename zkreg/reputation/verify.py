"""Pure feed verification: entries in, verdict out. No I/O, no clock (the caller passes `now_ms`).

`FeedState` is what a verifier trusts about one author's feed (its head and its key history), in the style of
python-tuf's trusted metadata set: `FeedVerifier.extend` either advances that state by one entry or raises an
exception named after the attack it stopped. `classify` sorts an entry that does not extend the head into a
harmless replay or equivocation evidence. The ledger (`zkreg.reputation.ledger`) does the I/O around this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import nacl.exceptions
import nacl.signing

from zkreg.errors import (
    BrokenChain,
    ForgedSignature,
    ForkedFeed,
    ImplausibleTimestamp,
    InvalidInput,
    RevokedKeyUsed,
    SeqGap,
    UnsupportedKey,
)
from zkreg.identity import public_key_from_did

if TYPE_CHECKING:  # the signature worker imports this module and needs no entry decoding
    from zkreg.reputation.entry import Entry

MAX_CLOCK_SKEW_MS = 10 * 60 * 1000
"""An entry may claim a time at most this far ahead of the verifier's clock."""
EARLIEST_TS_MS = 1_577_836_800_000
"""2020-01-01T00:00:00Z: no zkreg entry can be older."""


@lru_cache(maxsize=65536)
def _verify_key(did: str) -> nacl.signing.VerifyKey:
    return nacl.signing.VerifyKey(public_key_from_did(did))


def is_ed25519_did(did: str) -> bool:
    try:
        _verify_key(did)
    except InvalidInput:
        return False
    return True


def signature_valid(signer: str, payload: bytes, sig: bytes) -> bool:
    try:
        _verify_key(signer).verify(payload, sig)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, TypeError, InvalidInput):
        return False
    return True


def signature_ok(signer: str, entry: Entry) -> bool:
    return signature_valid(signer, entry.payload, entry.sig)


@dataclass(frozen=True)
class FeedState:
    """What we trust about one feed: its head and which key signed from which seq on."""

    author: str
    seq: int = 0
    head: str | None = None
    ts: int = 0
    keys: tuple[tuple[int, str], ...] = ()
    """(first seq, did) per key, oldest first; empty means the author's own key from seq 1."""
    forked: bool = False

    def key_at(self, seq: int) -> str:
        signer = self.author
        for first_seq, did in self.keys:
            if first_seq <= seq:
                signer = did
        return signer

    def retired_keys(self) -> set[str]:
        current = self.key_at(self.seq + 1)
        return {self.author, *(did for _, did in self.keys)} - {current}


Verdict = Literal["replay", "equivocation"]


@dataclass
class FeedVerifier:
    """Advances one feed's trusted state entry by entry; raises on anything that is not a valid extension."""

    state: FeedState
    now_ms: int
    accepted: list[Entry] = field(default_factory=list)
    signed: set[tuple[str, str]] = field(default_factory=set)
    """(signer, entry CID) pairs already found validly signed (`zkreg.reputation.pipeline` checks them ahead)."""

    def extend(self, entry: Entry) -> None:
        state = self.state
        if entry.author != state.author:
            raise BrokenChain(entry.author, entry.seq, f"entry belongs to another feed than {state.author}")
        if state.forked:
            raise ForkedFeed(entry.author, entry.seq, "the author equivocated earlier; its feed is closed")
        if entry.seq != state.seq + 1:
            raise SeqGap(entry.author, entry.seq, f"expected seq {state.seq + 1} (reordered or dropped entries)")
        if entry.prev != state.head:
            raise BrokenChain(entry.author, entry.seq, f"prev is {entry.prev}, the previous entry is {state.head}")
        signer = state.key_at(entry.seq)
        if not is_ed25519_did(signer):
            raise UnsupportedKey(entry.author, entry.seq, f"{signer} is not an Ed25519 did:key")
        if (signer, entry.cid) not in self.signed and not signature_ok(signer, entry):
            if any(signature_ok(old, entry) for old in state.retired_keys()):
                raise RevokedKeyUsed(entry.author, entry.seq, "signed by a key the feed rotated away from")
            raise ForgedSignature(entry.author, entry.seq, f"signature does not verify for {signer}")
        if entry.ts < EARLIEST_TS_MS or entry.ts > self.now_ms + MAX_CLOCK_SKEW_MS:
            raise ImplausibleTimestamp(entry.author, entry.seq, f"timestamp {entry.ts} ms is absurd")
        if entry.ts < state.ts:
            raise ImplausibleTimestamp(entry.author, entry.seq, "timestamp earlier than the previous entry's")
        keys = state.keys
        if entry.type == "rotate":
            new_key = str(entry.body["new_key"])
            if not is_ed25519_did(new_key):
                raise UnsupportedKey(entry.author, entry.seq, f"rotates to {new_key}, which is not an Ed25519 did:key")
            keys = (*keys, (entry.seq + 1, new_key))
        self.state = FeedState(state.author, entry.seq, entry.cid, entry.ts, keys, state.forked)
        self.accepted.append(entry)


def classify(state: FeedState, entry: Entry, held_cid: str) -> Verdict:
    """An entry at a seq we already hold (`held_cid`): a replay of it, or a second signed entry for the same seq.

    Equivocation needs proof, so the other entry must carry the signature of the key the feed had at that seq;
    anything else is a forgery, not evidence against the author.
    """
    if entry.cid == held_cid:
        return "replay"
    if not signature_ok(state.key_at(entry.seq), entry):
        raise ForgedSignature(entry.author, entry.seq, "conflicts with a held entry and is not validly signed")
    return "equivocation"


def verify_chain(author: str, entries: list[Entry], now_ms: int) -> FeedState:
    """Verify a whole feed from seq 1 (as `zkreg ledger verify` does); the resulting state, or raise."""
    verifier = FeedVerifier(FeedState(author), now_ms)
    for entry in entries:
        verifier.extend(entry)
    return verifier.state
