"""Ledger speed, each figure next to a baseline measured in the same run.

append     signed entries/s through `Ledger.append` (one fsynced transaction each) and `append_batch`
           (1,000 per transaction), vs raw PyNaCl signing of the same payloads. Target >= 5,000/s.
verify     the full check of an import (size cap, canonical DAG-CBOR, schema, CID, chain, signature) over
           N entries, as the import pipeline does it (signatures checked ahead in a child process, on the
           second core), vs raw PyNaCl `verify` of the same signatures in one thread. Target ratio >= 0.8.
import     `zkreg ledger import` of an N-entry CAR into an empty ledger. Target < 10 s for 100k.
scores     EigenTrust + credit/debit over that ledger (N entries, K identities). Target < 1 s.

  python bench/ledger.py [--entries 100000] [--identities 10000]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import nacl.signing

from zkreg.identity import Identity
from zkreg.registry.cid import DAG_CBOR, compute
from zkreg.reputation.entry import Entry, sign_entry
from zkreg.reputation.ledger import IMPORT_BATCH, Ledger
from zkreg.reputation.pipeline import decoded_batches
from zkreg.reputation.score import compute_scores
from zkreg.reputation.sync import CarFileTransport, export_car, pull
from zkreg.reputation.verify import FeedState, FeedVerifier

T0 = 1_764_000_000_000


def identities(count: int) -> list[Identity]:
    return [Identity(nacl.signing.SigningKey(hashlib.sha256(f"bench-{n}".encode()).digest())) for n in range(count)]


def workload(people: list[Identity], dids: list[str], total: int) -> list[Entry]:
    """About `total` entries: each identity publishes, endorses two peers, and uses/serves others' models."""
    rng = random.Random(7)
    items: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in people]
    count = len(people)
    for n in range(count):
        items[n].append(("publish", {"manifest": compute(DAG_CBOR, f"model-{n}".encode())}))
        for peer in rng.sample(range(count), 2):
            items[n].append(("endorse", {"peer": dids[peer], "weight": rng.randint(1, 10)}))
    request = 0
    while sum(map(len, items)) < total:
        consumer, provider = rng.sample(range(count), 2)
        name = f"r{request}"
        request += 1
        manifest = compute(DAG_CBOR, f"model-{provider}".encode())
        items[consumer].append(("use", {"manifest": manifest, "provider": dids[provider], "request": name}))
        receipt = {"request": name, "consumer": dids[consumer], "proof": None, "output_hash": "00" * 32}
        items[provider].append(("receipt", receipt))
    entries: list[Entry] = []
    for person, did, feed_items in zip(people, dids, items, strict=True):
        previous: Entry | None = None
        for offset, (type_, body) in enumerate(feed_items):
            previous = sign_entry(
                person,
                seq=previous.seq + 1 if previous else 1,
                prev=previous.cid if previous else None,
                ts=T0 + offset,
                type_=type_,
                body=body,
                author=did,
            )
            entries.append(previous)
    return entries


def timed(label: str, fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    print(f"  {label:<52} {elapsed:8.3f} s")
    return elapsed, result


def bench_append(tmp: Path, count: int) -> None:
    me = identities(1)[0]
    payloads = [f"payload {n}".encode() for n in range(count)]
    raw, _ = timed(f"raw PyNaCl sign x{count}", lambda: [me.sign(payload) for payload in payloads])
    ledger = Ledger(tmp / "append.db")
    body = {"peer": me.did, "weight": 1}
    single = max(count // 10, 1)
    one, _ = timed(
        f"Ledger.append x{single} (a transaction each)",
        lambda: [ledger.append(me, "endorse", body) for _ in range(single)],
    )
    batched, _ = timed(
        f"Ledger.append_batch x{count} (1,000 per transaction)",
        lambda: [ledger.append_batch(me, [("endorse", body)] * 1000) for _ in range(count // 1000)],
    )
    ledger.verify_all()
    ledger.close()
    print(
        f"  => append: {single / one:,.0f}/s one per transaction, {count / batched:,.0f}/s batched "
        f"(raw sign {count / raw:,.0f}/s; batched/raw = {raw / batched:.2f}x; target >= 5,000/s)"
    )


def bench_verify(entries: list[Entry]) -> None:
    keys = {entry.author: nacl.signing.VerifyKey(bytes(decode_key(entry.author))) for entry in entries}
    pairs = [(keys[entry.author], entry.payload, entry.sig) for entry in entries]
    raw, _ = timed(f"raw PyNaCl verify x{len(pairs)}", lambda: [key.verify(p, s) for key, p, s in pairs])
    block_list = [entry.block for entry in entries]

    def full_check() -> None:
        """What `Ledger.import_blocks` does minus SQLite: the same pipeline, a child process checking
        signatures ahead, each batch's verifiers using its answers."""
        states: dict[str, FeedState] = {}
        for entries, signed in decoded_batches(block_list, IMPORT_BATCH):
            verifiers: dict[str, FeedVerifier] = {}
            for entry in entries:
                verifier = verifiers.get(entry.author)
                if verifier is None:
                    state = states.get(entry.author, FeedState(entry.author))
                    verifier = verifiers[entry.author] = FeedVerifier(state, T0 + 10**9, signed=signed)
                verifier.extend(entry)
            states.update((author, verifier.state) for author, verifier in verifiers.items())

    ours, _ = timed(f"decode + verify chain x{len(block_list)}", full_check)
    print(f"  => verify: raw/ours = {raw / ours:.2f}x (target >= 0.8)")


def decode_key(did: str) -> bytes:
    from zkreg.identity import public_key_from_did

    return public_key_from_did(did)


def bench_import_and_scores(tmp: Path, entries: list[Entry], roots: list[str]) -> None:
    source = Ledger(tmp / "source.db")
    timed(
        f"(setup) import x{len(entries)} into the source ledger", lambda: source.import_blocks(e.block for e in entries)
    )
    car = tmp / "feeds.car"
    timed("ledger export (CAR)", lambda: export_car(source, car))
    source.close()
    target = Ledger(tmp / "target.db")
    imported, report = timed(f"ledger import of {len(entries)} entries", lambda: pull(target, CarFileTransport(car)))
    assert report.accepted == len(entries)
    _, report = timed("the same import again (all replays)", lambda: pull(target, CarFileTransport(car)))
    assert report.duplicates == len(entries)
    people = len(target.authors())
    scored, scores = timed(
        f"scores over {len(entries)} entries / {people} identities", lambda: compute_scores(target, roots)
    )
    target.close()
    print(
        f"  => import: {imported:.2f} s (target < 10 s); scores: {scored:.2f} s (target < 1 s); "
        f"{len(scores.uses)} counted use pairs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--identities", type=int, default=10_000)
    parser.add_argument("--appends", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        print("append")
        bench_append(tmp, args.appends)
        print(f"building a workload of ~{args.entries} signed entries by {args.identities} identities")
        people = identities(args.identities)
        dids = [person.did for person in people]
        entries = workload(people, dids, args.entries)
        print("verify")
        bench_verify(entries)
        print("import and scores")
        bench_import_and_scores(tmp, entries, dids[:10])


if __name__ == "__main__":
    main()
