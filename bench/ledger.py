"""Ledger speed, each figure next to a baseline measured in the same run.

append     signed entries/s through `Ledger.append` (one fsynced transaction each) and `append_batch`
           (1,000 per transaction), vs raw PyNaCl signing of the same payloads. Target >= 5,000/s.
verify     the full check of an import (size cap, canonical DAG-CBOR, schema, CID, chain, signature) over
           N entries, as the import pipeline does it (signatures checked by one child process per core), vs raw
           PyNaCl `verify` of the same signatures in one thread. Target ratio >= 1.5. Also in CPU time: what
           the importer and the children used, and the ratio they would reach with every core free.
import     `zkreg ledger import` of an N-entry CAR into an empty ledger. Target < 5 s for 100k.
scores     EigenTrust + credit/debit over a ledger of 1M entries by 100k identities (kept between runs with
           --score-ledger; its entries carry zero signatures, see `fill_unsigned`). Target < 10 s.

  python bench/ledger.py [--entries 100000] [--identities 10000] [--only append|verify|import|scores]
                         [--score-entries 1000000] [--score-identities 100000] [--score-ledger PATH]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nacl.signing

from zkreg.identity import Identity
from zkreg.registry.cid import DAG_CBOR, compute
from zkreg.reputation.entry import Entry, sign_entry
from zkreg.reputation.ledger import IMPORT_BATCH, Ledger
from zkreg.reputation.pipeline import decoded_batches, worker_count
from zkreg.reputation.score import compute_scores
from zkreg.reputation.sync import CarFileTransport, export_car, pull
from zkreg.reputation.verify import FeedState, FeedVerifier
from zkreg.storage import transaction

T0 = 1_764_000_000_000


def identities(count: int) -> list[Identity]:
    return [Identity(nacl.signing.SigningKey(hashlib.sha256(f"bench-{n}".encode()).digest())) for n in range(count)]


class ZeroSigner:
    """Stands in for an identity where only the form of entries matters (the large scoring ledger)."""

    def __init__(self, did: str) -> None:
        self.did = did

    def sign(self, message: bytes) -> bytes:
        return bytes(64)


def workload(people: list[Identity] | list[ZeroSigner], dids: list[str], total: int) -> Iterator[Entry]:
    """About `total` entries, feed by feed: each identity publishes, endorses two peers, and uses/serves others'
    models."""
    rng = random.Random(7)
    items: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in people]
    count = len(people)
    for n in range(count):
        items[n].append(("publish", {"manifest": compute(DAG_CBOR, f"model-{n}".encode())}))
        for peer in rng.sample(range(count), 2):
            items[n].append(("endorse", {"peer": dids[peer], "weight": rng.randint(1, 10)}))
    for request in range((total - 3 * count + 1) // 2):
        consumer, provider = rng.sample(range(count), 2)
        name = f"r{request}"
        manifest = compute(DAG_CBOR, f"model-{provider}".encode())
        items[consumer].append(("use", {"manifest": manifest, "provider": dids[provider], "request": name}))
        receipt = {"request": name, "consumer": dids[consumer], "proof": None, "output_hash": "00" * 32}
        items[provider].append(("receipt", receipt))
    for person, did, feed_items in zip(people, dids, items, strict=True):
        previous: Entry | None = None
        for offset, (type_, body) in enumerate(feed_items):
            previous = sign_entry(
                person,  # type: ignore[arg-type]
                seq=previous.seq + 1 if previous else 1,
                prev=previous.cid if previous else None,
                ts=T0 + offset,
                type_=type_,
                body=body,
                author=did,
            )
            yield previous


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


def cpu_seconds() -> tuple[float, float]:
    """CPU time (user + system) of this process and of its children that have ended."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def bench_verify(entries: list[Entry]) -> None:
    keys = {entry.author: nacl.signing.VerifyKey(bytes(decode_key(entry.author))) for entry in entries}
    pairs = [(keys[entry.author], entry.payload, entry.sig) for entry in entries]
    raw_cpu_before = cpu_seconds()[0]
    raw, _ = timed(f"raw PyNaCl verify x{len(pairs)} (one core)", lambda: [key.verify(p, s) for key, p, s in pairs])
    raw_cpu = cpu_seconds()[0] - raw_cpu_before
    block_list = [entry.block for entry in entries]

    def full_check() -> None:
        """What `Ledger.import_blocks` does minus SQLite: the same pipeline, children checking signatures
        ahead, each batch's verifiers using their answers."""
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

    own_before, children_before = cpu_seconds()
    ours, _ = timed(f"decode + verify chain x{len(block_list)} ({worker_count()} workers)", full_check)
    own_after, children_after = cpu_seconds()
    own, children = own_after - own_before, children_after - children_before
    cores = len(os.sched_getaffinity(0))
    # With every core free the importer and the children would finish when the busiest of them does: the
    # importer's own CPU time, or all the CPU time spread over the cores.
    bound = raw_cpu / max(own, (own + children) / cores)
    print(
        f"  => verify: ours/raw = {raw / ours:.2f}x wall clock (target >= 1.5x; load average {load()}); CPU time: "
        f"importer {own:.2f} s + workers {children:.2f} s vs raw {raw_cpu:.2f} s, i.e. {bound:.2f}x with "
        f"{cores} free cores"
    )


def load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


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
    own_before, children_before = cpu_seconds()
    imported, report = timed(f"ledger import of {len(entries)} entries", lambda: pull(target, CarFileTransport(car)))
    own_after, children_after = cpu_seconds()
    assert report.accepted == len(entries)
    own, children = own_after - own_before, children_after - children_before
    print(
        f"  => import CPU time: importer {own:.2f} s + workers {children:.2f} s, i.e. "
        f"{max(own, (own + children) / len(os.sched_getaffinity(0))):.2f} s with every core free"
    )
    _, report = timed("the same import again (all replays)", lambda: pull(target, CarFileTransport(car)))
    assert report.duplicates == len(entries)
    people = len(target.authors())
    scored, scores = timed(
        f"scores over {len(entries)} entries / {people} identities", lambda: compute_scores(target, roots)
    )
    target.close()
    print(
        f"  => import: {imported:.2f} s (target < 5 s; load average {load()}); scores: {scored:.2f} s; "
        f"{len(scores.uses)} counted use pairs"
    )


def fill_unsigned(ledger: Ledger, entries: Iterator[Entry]) -> None:
    """Store well-formed entries with zero signatures as an import would (same rows), without the signature checks
    that would refuse them: scoring never reads a signature, and signing and checking a million entries would make
    the setup take most of an hour on a loaded machine."""
    batch: list[Entry] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == IMPORT_BATCH:
            store_unverified(ledger, batch)
            batch = []
    store_unverified(ledger, batch)


def store_unverified(ledger: Ledger, batch: list[Entry]) -> None:
    with transaction(ledger.conn):
        ledger._insert(batch)
        heads: dict[str, Entry] = {entry.author: entry for entry in batch}
        for entry in heads.values():
            ledger._save_state(FeedState(entry.author, entry.seq, entry.cid, entry.ts))


def bench_large_scores(path: Path, total: int, count: int) -> None:
    """Scores over a ledger of `total` entries by `count` identities, kept at `path` between runs."""
    dids = [person.did for person in identities(count)]
    ledger = Ledger(path)
    if ledger.count() == 0:
        signers = [ZeroSigner(did) for did in dids]
        timed(
            f"(setup, kept in {path}) ~{total} unsigned entries by {count} identities",
            lambda: fill_unsigned(ledger, workload(signers, dids, total)),
        )
    held, authors = ledger.count(), len(ledger.authors())
    roots = dids[:10]
    own_before = cpu_seconds()[0]
    scored, scores = timed(f"scores over {held} entries / {authors} identities", lambda: compute_scores(ledger, roots))
    own = cpu_seconds()[0] - own_before
    ledger.close()
    print(
        f"  => scores: {scored:.2f} s, {own:.2f} s CPU (target < 10 s for 1M / 100k; load average {load()}); "
        f"{len(scores.uses)} counted use pairs, {len(scores.edges)} edges"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--identities", type=int, default=10_000)
    parser.add_argument("--appends", type=int, default=20_000)
    parser.add_argument("--score-entries", type=int, default=1_000_000)
    parser.add_argument("--score-identities", type=int, default=100_000)
    parser.add_argument("--score-ledger", type=Path, help="where to keep the large ledger between runs")
    parser.add_argument("--only", choices=["append", "verify", "import", "scores"], action="append")
    args = parser.parse_args()
    steps = set(args.only or ["append", "verify", "import", "scores"])
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        if "append" in steps:
            print("append")
            bench_append(tmp, args.appends)
        if steps & {"verify", "import"}:
            print(f"building a workload of ~{args.entries} signed entries by {args.identities} identities")
            people = identities(args.identities)
            dids = [person.did for person in people]
            entries = list(workload(people, dids, args.entries))
            # The workload stays in memory for every step: out of the garbage collector's way, as an importer's
            # memory holds only the batch at hand (otherwise each full collection walks the whole workload).
            gc.freeze()
            if "verify" in steps:
                print("verify")
                bench_verify(entries)
            if "import" in steps:
                print("import and scores")
                bench_import_and_scores(tmp, entries, dids[:10])
        if "scores" in steps:
            print("scores at scale")
            bench_large_scores(args.score_ledger or tmp / "large.db", args.score_entries, args.score_identities)


if __name__ == "__main__":
    main()
