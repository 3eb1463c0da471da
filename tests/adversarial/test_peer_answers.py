"""Finding 5 (peer part): a peer that answers 200 with bytes that fail our checks.

A real hostile HTTP server on 127.0.0.1 (http.server in a thread) answers crafted bodies; the real CLI runs
`peer add`, `sync` and `pull --remote` against it. Each must end in one error line with a stable code and exit
code, a JSON error object with --json, and leave the victim's ledger, store and peer list as they were.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from zkreg.api import ProveRequest, PublishRequest, Repo, prove, publish
from zkreg.peer.store import PEER_DB, PeerStore

ALICE_DID = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
A_CID = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"


@dataclass
class Canned:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def as_json(document: Any, status: int = 200) -> Canned:
    return Canned(status, json.dumps(document).encode(), {"content-type": "application/json"})


class HostilePeer:
    """Answers `METHOD /path` (query ignored) with what the test set; a path prefix ending in `*` matches more."""

    def __init__(self) -> None:
        self.routes: dict[str, Canned | Callable[[str], Canned]] = {}
        self.requests = 0
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                peer.requests += 1
                canned = peer.lookup(f"{self.command} {self.path.split('?')[0]}")
                if callable(canned):
                    canned = canned(self.path)
                self.send_response(canned.status)
                for name, value in canned.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(canned.body)))
                self.end_headers()
                self.wfile.write(canned.body)

            do_GET = do_POST = _answer  # noqa: N815  (the names http.server dispatches to)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def lookup(self, key: str) -> Canned | Callable[[str], Canned]:
        if key in self.routes:
            return self.routes[key]
        for pattern, canned in self.routes.items():
            if pattern.endswith("*") and key.startswith(pattern[:-1]):
                return canned
        return as_json({"error": {"code": "not-found", "message": "nothing here", "exit_code": 3}}, 404)


@pytest.fixture
def hostile() -> Iterator[HostilePeer]:
    peer = HostilePeer()
    thread = threading.Thread(target=peer.server.serve_forever, daemon=True)
    thread.start()
    yield peer
    peer.server.shutdown()
    peer.server.server_close()


@pytest.fixture
def victim(cli: Any) -> Path:
    assert cli("init").code == 0
    home: Path = cli.home
    return home


@dataclass(frozen=True)
class Published:
    cid: str
    block: bytes
    other_cid: str
    other_block: bytes


@pytest.fixture
def published(tmp_path: Path) -> Published:
    """Two real signed manifests of a real author (a file each), as a hostile peer could serve them."""
    author = Repo.init(tmp_path / "author")
    try:
        first, second = tmp_path / "a.txt", tmp_path / "b.txt"
        first.write_bytes(b"the artefact asked for\n" * 100)
        second.write_bytes(b"another artefact\n" * 100)
        cid = publish(author, PublishRequest([first], name="wanted", kind="dataset")).cid
        other = publish(author, PublishRequest([second], name="other", kind="dataset")).cid
        return Published(cid, author.store.get_block(cid), other, author.store.get_block(other))
    finally:
        author.close()


def snapshot(home: Path) -> tuple[list[str], list[str], list[str]]:
    """What a failed command must leave as it was: ledger entries, stored blocks, remembered peers."""
    blocks = sorted(p.name for p in (home / "blocks").rglob("*") if p.is_file() and ".tmp" not in p.parts)
    repo = Repo.open(home)
    try:
        entries = [entry.cid for entry in repo.ledger.entries()]
    finally:
        repo.close()
    peers: list[str] = []
    if (home / PEER_DB).exists():
        store = PeerStore(home / PEER_DB)
        try:
            peers = [peer.url for peer in store.peers()]
        finally:
            store.close()
    return entries, blocks, peers


def assert_refused(cli: Any, home: Path, args: list[str], code: str, exit_code: int) -> None:
    before = snapshot(home)
    result = cli(*args)
    assert result.code == exit_code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"zkreg: error[{code}]"), result.stderr
    as_json_result = cli(*args, "--json")
    assert as_json_result.code == exit_code
    assert as_json_result.json()["error"]["code"] == code
    assert snapshot(home) == before


DEEP = b"[" * 100_000 + b"]" * 100_000

HEALTH_ANSWERS = {
    "not_json": Canned(200, b"<html>hello</html>"),
    "json_list": as_json([1, 2, 3]),
    "did_of_wrong_type": as_json({"ok": True, "did": 5, "version": "0.1.0"}),
    "did_not_a_did": as_json({"ok": True, "did": "alice", "version": "0.1.0"}),
    "number_past_float": Canned(200, b'{"ok": true, "did": 1e999}'),
    "nan": Canned(200, b'{"ok": true, "did": NaN}'),
    "deep_nesting": Canned(200, DEEP),
    "huge_integer": Canned(200, b'{"ok": true, "did": ' + b"9" * 5000 + b"}"),
    "not_utf8": Canned(200, b'{"did": "\xff\xfe"}'),
}


@pytest.mark.parametrize("answer", HEALTH_ANSWERS.values(), ids=HEALTH_ANSWERS.keys())
def test_peer_add_refuses_a_malformed_health_answer(
    cli: Any, victim: Path, hostile: HostilePeer, answer: Canned
) -> None:
    hostile.routes["GET /healthz"] = answer
    assert_refused(cli, victim, ["peer", "add", hostile.url], "peer/malformed-answer", 4)


def test_peer_error_body_cannot_choose_our_exit_code(cli: Any, victim: Path, hostile: HostilePeer) -> None:
    """exit_code 256 would make the CLI exit 0 (256 mod 256) after a failure; the peer's claim is bounded."""
    hostile.routes["GET /healthz"] = as_json({"error": {"code": "x", "message": "no", "exit_code": 256}}, 500)
    result = cli("peer", "add", hostile.url, "--json")
    assert result.code == 6
    assert result.json()["error"]["code"] == "x"


def heads(*items: dict[str, Any]) -> Canned:
    return as_json({"heads": list(items)})


def head(**changes: Any) -> dict[str, Any]:
    return {"author": ALICE_DID, "seq": 3, "head": A_CID, "forked": False, **changes}


HEADS_ANSWERS = {
    "not_json": Canned(200, b"\x00\x01binary"),
    "heads_not_a_list": as_json({"heads": "all of them"}),
    "no_heads_key": as_json({"feeds": []}),
    "head_not_an_object": heads("alice"),  # type: ignore[arg-type]
    "author_not_a_did": heads(head(author="alice")),
    "seq_a_string": heads(head(seq="3")),
    "seq_negative": heads(head(seq=-1)),
    "seq_past_int64": heads(head(seq=2**70)),
    "seq_1e999": Canned(200, json.dumps({"heads": [head(seq=0)]}).replace('"seq": 0', '"seq": 1e999').encode()),
    "head_not_a_cid": heads(head(head="../../etc/passwd")),
    "forked_not_a_bool": heads(head(forked="yes")),
    "deep_nesting": Canned(200, b'{"heads": ' + DEEP + b"}"),
}


@pytest.mark.parametrize("answer", HEADS_ANSWERS.values(), ids=HEADS_ANSWERS.keys())
def test_sync_refuses_malformed_feed_heads(cli: Any, victim: Path, hostile: HostilePeer, answer: Canned) -> None:
    hostile.routes["GET /v1/feeds/heads"] = answer
    assert_refused(cli, victim, ["sync", hostile.url], "peer/malformed-answer", 4)


def test_sync_refuses_a_feed_page_with_a_bad_last_seq_header(cli: Any, victim: Path, hostile: HostilePeer) -> None:
    hostile.routes["GET /v1/feeds/heads"] = heads(head())
    hostile.routes["GET /v1/feeds/*"] = Canned(200, b"", {"x-zkreg-last-seq": "three"})
    assert_refused(cli, victim, ["sync", hostile.url], "peer/malformed-answer", 4)


def test_sync_refuses_a_feed_page_that_is_not_a_car(cli: Any, victim: Path, hostile: HostilePeer) -> None:
    hostile.routes["GET /v1/feeds/heads"] = heads(head())
    hostile.routes["GET /v1/feeds/*"] = Canned(200, b"\xff" * 64, {"x-zkreg-last-seq": "3"})
    assert_refused(cli, victim, ["sync", hostile.url], "feed/malformed-car", 4)


def manifest_answers(published: Published) -> dict[str, Canned]:
    good = base64.b64encode(published.block).decode()
    return {
        "not_json": Canned(200, b"manifest? no"),
        "cid_of_wrong_type": as_json({"cid": 7, "block": good}),
        "cid_not_a_cid": as_json({"cid": "hello", "block": good}),
        "block_not_base64": as_json({"cid": published.cid, "block": "!!!not base64!!!"}),
        "block_missing": as_json({"cid": published.cid}),
        "deep_nesting": Canned(200, b'{"cid": ' + DEEP + b"}"),
    }


@pytest.mark.parametrize(
    "case", ["not_json", "cid_of_wrong_type", "cid_not_a_cid", "block_not_base64", "block_missing", "deep_nesting"]
)
def test_pull_remote_refuses_a_malformed_manifest_answer(
    cli: Any, victim: Path, hostile: HostilePeer, published: Published, tmp_path: Path, case: str
) -> None:
    hostile.routes[f"GET /v1/manifests/{published.cid}"] = manifest_answers(published)[case]
    out = tmp_path / "out"
    assert_refused(
        cli, victim, ["pull", published.cid, "--remote", hostile.url, "-o", str(out)], "peer/malformed-answer", 4
    )
    assert not out.exists()


def test_pull_remote_refuses_another_manifest_than_the_cid_asked_for(
    cli: Any, victim: Path, hostile: HostilePeer, published: Published, tmp_path: Path
) -> None:
    """A validly signed manifest, but not the one asked for: substituting artefacts must not work."""
    hostile.routes[f"GET /v1/manifests/{published.cid}"] = as_json(
        {"cid": published.other_cid, "block": base64.b64encode(published.other_block).decode()}
    )
    out = tmp_path / "out"
    assert_refused(
        cli, victim, ["pull", published.cid, "--remote", hostile.url, "-o", str(out)], "integrity/cid-mismatch", 4
    )
    assert not out.exists()


def test_pull_remote_refuses_manifest_bytes_that_do_not_hash_to_the_cid(
    cli: Any, victim: Path, hostile: HostilePeer, published: Published, tmp_path: Path
) -> None:
    hostile.routes[f"GET /v1/manifests/{published.cid}"] = as_json(
        {"cid": published.cid, "block": base64.b64encode(published.other_block).decode()}
    )
    out = tmp_path / "out"
    assert_refused(
        cli, victim, ["pull", published.cid, "--remote", hostile.url, "-o", str(out)], "integrity/cid-mismatch", 4
    )


def test_pull_remote_refuses_a_block_whose_bytes_do_not_match_and_stores_nothing(
    cli: Any, victim: Path, hostile: HostilePeer, published: Published, tmp_path: Path
) -> None:
    hostile.routes[f"GET /v1/manifests/{published.cid}"] = as_json(
        {"cid": published.cid, "block": base64.b64encode(published.block).decode()}
    )
    hostile.routes["GET /v1/blocks/*"] = Canned(200, b"not the block you asked for")
    out = tmp_path / "out"
    assert_refused(
        cli, victim, ["pull", published.cid, "--remote", hostile.url, "-o", str(out)], "integrity/cid-mismatch", 4
    )
    assert not out.exists()


def test_pull_remote_refuses_an_oversized_block(
    cli: Any, victim: Path, hostile: HostilePeer, published: Published, tmp_path: Path
) -> None:
    hostile.routes[f"GET /v1/manifests/{published.cid}"] = as_json(
        {"cid": published.cid, "block": base64.b64encode(published.block).decode()}
    )
    hostile.routes["GET /v1/blocks/*"] = Canned(200, b"\0" * (5 * 1024 * 1024))
    out = tmp_path / "out"
    assert_refused(
        cli, victim, ["pull", published.cid, "--remote", hostile.url, "-o", str(out)], "peer/malformed-answer", 4
    )


# ---- prove --remote: a hostile provider's answer (real zk model and real proof, from tests/zk/models.py) ---------


@dataclass(frozen=True)
class ZkAuthor:
    cid: str
    blocks: dict[str, bytes]
    """The manifest's zk artefacts (settings, vk, SRS) and all their blocks, as the provider serves them."""
    bundle: bytes
    """A real bundle by the model's author, for the input `PROVED_INPUT`."""


PROVED_INPUT = [0.5, -0.25, 0.75, 0.1]
ASKED_INPUT = [0.1, 0.2, 0.3, 0.4]


@pytest.fixture(scope="module")
def zk_author(tmp_path_factory: pytest.TempPathFactory) -> ZkAuthor:
    from tests.zk.models import build_mlp
    from zkreg.registry.car import walk_dag

    folder = tmp_path_factory.mktemp("zk-author")
    repo = Repo.init(folder / "home")
    try:
        cid = publish(
            repo, PublishRequest([build_mlp(folder / "mlp.onnx", seed=5)], name="mlp", weights="private", zk="fixed")
        ).cid
        manifest = repo.manifest(cid)
        assert manifest.zk is not None
        roots = [str(manifest.zk[key]) for key in ("settings", "vk", "srs")]
        blocks = {cid: repo.store.get_block(cid), **dict(walk_dag(repo.store.get_block, roots))}
        (folder / "input.json").write_text(json.dumps(PROVED_INPUT))
        prove(repo, ProveRequest(cid, folder / "input.json", folder / "proof.json"))
        return ZkAuthor(cid, blocks, (folder / "proof.json").read_bytes())
    finally:
        repo.close()


def serve_zk_model(hostile: HostilePeer, author: ZkAuthor) -> None:
    hostile.routes[f"GET /v1/manifests/{author.cid}"] = as_json(
        {"cid": author.cid, "block": base64.b64encode(author.blocks[author.cid]).decode()}
    )
    for cid, block in author.blocks.items():
        hostile.routes[f"GET /v1/blocks/{cid}"] = Canned(200, block)


def prove_answer(author: ZkAuthor, **changes: Any) -> dict[str, Any]:
    from zkreg.registry.cid import DAG_CBOR, compute
    from zkreg.registry.unixfs import import_stream

    decision = {"requester": ALICE_DID, "balance": 0.0, "unpaid": 0, "free_quota": 2.0, "price": 1, "available": 2.0}
    return {
        "proof": import_stream(io.BytesIO(author.bundle), lambda cid, block: None).cid,
        "receipt": compute(DAG_CBOR, b"a receipt"),
        "bundle": base64.b64encode(author.bundle).decode(),
        "decision": decision,
        **changes,
    }


def ledger_of(home: Path) -> list[str]:
    return snapshot(home)[0]


@pytest.mark.slow
@pytest.mark.parametrize("case", ["not_json", "bundle_not_base64", "balance_1e999", "receipt_missing", "decision_deep"])
def test_prove_remote_refuses_a_malformed_prove_answer(
    cli: Any, victim: Path, hostile: HostilePeer, zk_author: ZkAuthor, tmp_path: Path, case: str
) -> None:
    serve_zk_model(hostile, zk_author)
    valid = prove_answer(zk_author)
    answers = {
        "not_json": Canned(200, b"proof: trust me"),
        "bundle_not_base64": as_json({**valid, "bundle": "%%%"}),
        "balance_1e999": Canned(200, json.dumps(valid).replace('"balance": 0.0', '"balance": 1e999').encode()),
        "receipt_missing": as_json({key: value for key, value in valid.items() if key != "receipt"}),
        "decision_deep": Canned(
            200, json.dumps({**valid, "decision": 0}).replace('"decision": 0', DEEP.decode()).encode()
        ),
    }
    hostile.routes["POST /v1/prove"] = answers[case]
    (tmp_path / "input.json").write_text(json.dumps(ASKED_INPUT))
    before = ledger_of(victim)
    out = tmp_path / "proof.json"
    args = ["prove", zk_author.cid, "--remote", hostile.url, "--input", str(tmp_path / "input.json"), "-o", str(out)]
    result = cli(*args, "--json")
    assert result.code == 4, result.stderr
    assert result.json()["error"]["code"] == "peer/malformed-answer"
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert ledger_of(victim) == before
    assert not out.exists()


@pytest.mark.slow
def test_prove_remote_refuses_a_real_bundle_that_proves_another_input(
    cli: Any, victim: Path, hostile: HostilePeer, zk_author: ZkAuthor, tmp_path: Path
) -> None:
    """The bundle is real, verifies, is the model's and is signed by its author, but proves another input."""
    serve_zk_model(hostile, zk_author)
    hostile.routes["POST /v1/prove"] = as_json(prove_answer(zk_author))
    (tmp_path / "input.json").write_text(json.dumps(ASKED_INPUT))
    before = ledger_of(victim)
    out = tmp_path / "proof.json"
    args = ["prove", zk_author.cid, "--remote", hostile.url, "--input", str(tmp_path / "input.json"), "-o", str(out)]
    result = cli(*args, "--json")
    assert result.code == 4, result.stderr
    assert result.json()["error"]["code"] == "proof/input-mismatch"
    assert ledger_of(victim) == before
    assert not out.exists()


def test_peer_add_with_a_malformed_url_is_a_usage_error(cli: Any, victim: Path) -> None:
    assert_refused(cli, victim, ["peer", "add", "http://[::1"], "usage/bad-url", 2)


@pytest.mark.parametrize("report", [{"accepted": "all", "duplicates": 0}, {"accepted": -1, "duplicates": 0}, []])
def test_sync_refuses_a_malformed_push_report(cli: Any, victim: Path, hostile: HostilePeer, report: Any) -> None:
    from tests.reputation.ledger_helpers import endorse, identity

    repo = Repo.open(victim)
    try:
        repo.ledger.append(repo.identity, *endorse(identity("someone")))  # something to push
    finally:
        repo.close()
    hostile.routes["GET /v1/feeds/heads"] = heads()
    hostile.routes["POST /v1/feeds"] = as_json(report)
    assert_refused(cli, victim, ["sync", hostile.url], "peer/malformed-answer", 4)


def test_sync_survives_evidence_whose_bytes_do_not_match(cli: Any, victim: Path, hostile: HostilePeer) -> None:
    """A peer that answers the manifests and proofs scoring needs with wrong bytes cannot fail every sync: the
    feeds were applied, the evidence is left unheld (so it counts for nothing) and the report says so."""
    from tests.reputation.ledger_helpers import feed, identity, manifest_cid
    from zkreg.registry.cid import RAW, compute

    consumer, provider = identity("consumer"), identity("provider")
    proof = compute(RAW, b"a proof the peer will not give")
    use = feed(consumer, [("use", {"manifest": manifest_cid("m"), "provider": provider.did, "request": "r1"})])
    receipt = {"request": "r1", "consumer": consumer.did, "proof": proof, "output_hash": "0" * 64}
    paid = feed(provider, [("receipt", receipt)])
    repo = Repo.open(victim)
    try:
        repo.ledger.import_blocks([entry.block for entry in use + paid])
    finally:
        repo.close()
    hostile.routes["GET /v1/feeds/heads"] = heads(
        {"author": consumer.did, "seq": 1, "head": use[0].cid, "forked": False},
        {"author": provider.did, "seq": 1, "head": paid[0].cid, "forked": False},
    )
    hostile.routes["POST /v1/feeds"] = as_json({"accepted": 0, "duplicates": 0})
    hostile.routes[f"GET /v1/manifests/{manifest_cid('m')}"] = as_json({"cid": manifest_cid("m"), "block": "oA=="})
    hostile.routes[f"GET /v1/blocks/{proof}"] = Canned(200, b"not the proof")
    before = snapshot(victim)
    result = cli("sync", hostile.url, "--json")
    assert result.code == 0, result.stderr
    assert result.json()["fetched"] == {"manifests": 0, "proofs": 0, "refused": 2}
    assert snapshot(victim) == before


def test_sync_from_a_peer_that_drips_its_feed_a_page_at_a_time_ends(
    cli: Any, victim: Path, hostile: HostilePeer
) -> None:
    """A peer claims a feed of 10^9 entries and answers every page with no entry and a last-seq header one past
    the page asked for: a sync must still end, after a bounded number of pages."""
    from urllib.parse import parse_qs, urlsplit

    from zkreg.peer.client import MAX_FEED_PAGES_PER_SYNC
    from zkreg.reputation.sync import car_stream

    empty_car = b"".join(car_stream([], []))

    def one_more(path: str) -> Canned:
        after = int(parse_qs(urlsplit(path).query)["after"][0])
        return Canned(200, empty_car, {"x-zkreg-last-seq": str(after + 1)})

    hostile.routes["GET /v1/feeds/heads"] = heads(head(seq=10**9))
    hostile.routes["GET /v1/feeds/*"] = one_more
    hostile.routes["POST /v1/feeds"] = as_json({"accepted": 0, "duplicates": 0})
    result = cli("sync", hostile.url, "--json")
    assert result.code == 0, result.stderr
    assert hostile.requests <= MAX_FEED_PAGES_PER_SYNC + 10
