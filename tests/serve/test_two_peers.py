"""Two peers on 127.0.0.1 with real proofs (ezkl), real HTTP and real data dirs: the reputation-gated exchange end
to end, and the faults that need a real proof in flight.

Alice's model (a private-weights MLP) is set up once per session (`alice_template` in conftest); each test works on
a copy of her data dir, so the dev SRS, circuit and proving key are made once (as in tests/zk)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reputation.ledger_helpers import endorse, feed, identity
from tests.serve.conftest import MLP_INPUT, AliceTemplate, StartPeer
from tests.serve.test_requests import publish_dataset
from zkreg.api import Repo, VerifyProofRequest, scores, trust_peer, verify_proof
from zkreg.app.remote import RemoteProveRequest, RemotePullRequest, prove_remote, pull_remote
from zkreg.app.sync import SyncRequest, sync
from zkreg.errors import ProofInvalid
from zkreg.peer.client import PeerClient
from zkreg.peer.envelope import sign_request
from zkreg.peer.limits import Limits
from zkreg.registry.car import car_stream
from zkreg.registry.unixfs import KUBO_V1_LEGACY
from zkreg.reputation.ledger import now_ms
from zkreg.reputation.policy import Policy

pytestmark = pytest.mark.slow


def entries_of(repo: Repo, type_: str) -> list[dict[str, Any]]:
    return [entry.body for entry in repo.ledger.entries(repo.identity.did) if entry.type == type_]


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ZKREG_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "zkreg", *args], capture_output=True, text=True, env=env, timeout=600)


def proving_processes(home: Path) -> list[int]:
    """Pids of proving children a `zkreg serve` over `home` started: the zk child module, run with the server's
    environment (its ZKREG_HOME)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                environ = (proc / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"zkreg.zk.ezkl_child" in cmdline and f"ZKREG_HOME={home}".encode() in environ:
                found.append(int(proc.name))
    return found


def descendants(root: int) -> dict[int, list[bytes]]:
    """The processes under `root` (children, their children, ...) with their command lines."""
    parents: dict[int, int] = {}
    commands: dict[int, list[bytes]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, ppid = int(stat.parent.name), int(stat.read_text().rsplit(")", 1)[1].split()[1])
            commands[pid] = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        parents[pid] = ppid
    under, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in under:
                under[pid] = commands[pid]
                frontier.append(pid)
    return under


def running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie holds nothing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def test_two_peers_free_quota_refusal_contribution_and_converging_scores(
    start_peer: StartPeer,
    alice_template: AliceTemplate,
    alice_home: Path,
    bob: Repo,
    input_file: Path,
    tmp_path: Path,
) -> None:
    alice = start_peer("alice", policy=Policy(newcomer_budget=2))
    model = alice_template.model

    # Bob, with no contributions and no trust from Alice's roots, draws on her newcomer budget (2 proofs here);
    # each proof is verified before he records it.
    for n in range(2):
        got = prove_remote(bob, RemoteProveRequest(alice.url, model, input_file, tmp_path / f"proof{n}.json"))
        assert got.output == json.loads(got.path.read_text())["output"]
    assert len(entries_of(bob, "use")) == 2

    # The third is refused with exit 5 and the numbers, before anything is proved.
    refused = run_cli(bob.home, "prove", model, "--remote", alice.url, "--input", str(input_file), "--json")
    assert refused.returncode == 5, refused.stderr
    error = json.loads(refused.stdout)["error"]
    assert (error["code"], error["rule"]) == ("policy/refused", "newcomer-budget")
    assert (error["price"], error["unpaid"]) == (1, 2)
    assert (error["newcomer_used"], error["newcomer_budget"]) == (2, 2)
    assert "newcomer budget is spent until" in error["message"]
    assert len(entries_of(bob, "use")) == 2

    # Bob publishes a dataset that Alice uses (a bilateral receipt from Bob); after sync his balance rises.
    bob_peer = start_peer("bob")  # serves Bob's data dir
    dataset = publish_dataset(bob_peer, tmp_path / "bob-data", name="bob-data")
    alice_repo = alice.repo()
    sync(bob, SyncRequest(alice.url))  # Alice learns of Bob's two uses: his debit, no longer "unpaid"
    before = scores(alice_repo).show(bob.identity.did).balance
    assert before == -2.0
    pull_remote(alice_repo, RemotePullRequest(bob_peer.url, dataset, tmp_path / "alice-pulled"))
    sync(alice_repo, SyncRequest(bob_peer.url))
    sync(bob, SyncRequest(alice.url))
    after = scores(alice_repo).show(bob.identity.did).balance
    assert after > before

    # ... and he is served again, now on his own standing (trust from Alice's use, so her free quota applies).
    third = prove_remote(bob, RemoteProveRequest(alice.url, model, input_file, tmp_path / "proof2.json"))
    assert third.decision["balance"] == pytest.approx(after)
    assert third.decision["rule"] == "balance"

    # After sync (and the same trust roots), both peers compute the same scores.
    sync(bob, SyncRequest(alice.url))
    for repo in (alice_repo, bob):
        trust_peer(repo, alice.did)
        trust_peer(repo, bob.identity.did)
    seen_by_alice, seen_by_bob = scores(alice_repo), scores(bob)
    assert seen_by_alice.trust == seen_by_bob.trust
    assert seen_by_alice.credit == seen_by_bob.credit
    assert seen_by_alice.debit == seen_by_bob.debit
    assert seen_by_alice.debit[bob.identity.did] == 3  # three proof-verified uses

    # A third peer that equivocates is detected by both after sync.
    carol = identity("carol")
    first = feed(carol, [endorse(identity("x"))])
    for peer_url, story in ((alice.url, "told-alice"), (bob_peer.url, "told-bob")):
        with PeerClient(peer_url) as client:
            told = feed(carol, [endorse(identity(story))], after=first[0])
            client.push(b"".join(car_stream([], [(e.cid, e.block) for e in first + told])))
    sync(alice_repo, SyncRequest(bob_peer.url))
    bob_served = bob_peer.repo()
    for repo in (alice_repo, bob_served):
        assert scores(repo).show(carol.did).forked
    bob_served.close()
    alice_repo.close()


def test_a_receipt_whose_proof_does_not_verify_gives_no_credit(
    start_peer: StartPeer, alice_template: AliceTemplate, alice_home: Path, bob: Repo, input_file: Path, tmp_path: Path
) -> None:
    alice = start_peer("alice")
    prove_remote(bob, RemoteProveRequest(alice.url, alice_template.model, input_file, tmp_path / "proof.json"))
    sync(bob, SyncRequest(alice.url))
    trust_peer(bob, alice.did)
    assert scores(bob).debit.get(bob.identity.did) == 1  # the honest pair counts

    # Alice's next receipt names a bundle whose output she edited and re-signed: it does not verify.
    alice_repo = alice.repo()
    bundle = json.loads((tmp_path / "proof.json").read_text())
    bundle["output"] = [[value + 1.0 for value in row] for row in bundle["output"]]
    from zkreg.zk.bundle import sign_bundle

    body = {key: value for key, value in bundle.items() if key not in ("signature", "schema", "prover")}
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(sign_bundle(alice_repo.identity, body)))
    forged_cid = alice_repo.store.put_file(forged, KUBO_V1_LEGACY).cid
    request = sign_request(bob.identity, "prove", alice_template.model, [MLP_INPUT], now_ms())
    bob.ledger.append(
        bob.identity, "use", {"manifest": alice_template.model, "provider": alice.did, "request": request.nonce}
    )
    receipt = {"request": request.nonce, "consumer": bob.identity.did, "proof": forged_cid, "output_hash": "00" * 32}
    alice_repo.ledger.append(alice_repo.identity, "receipt", receipt)
    alice_repo.close()
    sync(bob, SyncRequest(alice.url))
    assert bob.store.has(forged_cid)  # fetched: the verdict is about the proof, not its absence
    seen = scores(bob)
    assert seen.debit.get(bob.identity.did) == 1
    cached = bob.ledger.proof_verdict(forged_cid)
    assert cached is not None
    assert not cached.ok  # the verdict is cached by proof CID: scoring again does not re-verify
    assert cached.reason is not None
    assert cached.reason.startswith("proof/")
    with pytest.raises(ProofInvalid):
        verify_proof(bob, VerifyProofRequest(forged))


def test_server_killed_mid_request_gives_exit_6_and_records_no_use(
    alice_template: AliceTemplate, alice_home: Path, bob: Repo, input_file: Path
) -> None:
    env = {**os.environ, "ZKREG_HOME": str(alice_home)}
    server = subprocess.Popen(
        [sys.executable, "-m", "zkreg", "serve", "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        lines: list[str] = []
        while not lines or lines[-1] != "}":
            lines.append(server.stdout.readline().rstrip("\n"))
        url = json.loads("\n".join(lines))["url"]
        provers: list[int] = []

        def kill_once_proving() -> None:  # the request is surely in flight once the server's prover runs
            deadline = time.monotonic() + 120
            while not provers and time.monotonic() < deadline:
                provers.extend(proving_processes(alice_home))
                time.sleep(0.05)
            os.killpg(server.pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_once_proving)
        killer.start()
        client = run_cli(bob.home, "prove", alice_template.model, "--remote", url, "--input", str(input_file), "--json")
        killer.join()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        for pid in proving_processes(alice_home):  # the prover ran in its own session: end it too
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    assert provers, "the server never started proving"
    assert client.returncode == 6, client.stdout + client.stderr
    assert json.loads(client.stdout)["error"]["code"] in ("peer/unreachable", "peer/timeout")
    assert entries_of(bob, "use") == []


def test_concurrent_prove_requests_beyond_the_queue_get_503_with_retry_after_and_a_slow_proof_times_out(
    start_peer: StartPeer, alice_template: AliceTemplate, alice_home: Path, bob: Repo, tmp_path: Path
) -> None:
    alice = start_peer("alice", Limits(max_active=1, max_queued=0, prove_timeout_s=60))
    answers: list[httpx.Response] = []

    def ask() -> None:
        document = sign_request(bob.identity, "prove", alice_template.model, [MLP_INPUT], now_ms()).document
        answers.append(httpx.post(f"{alice.url}/v1/prove", json=document, timeout=300))

    first = threading.Thread(target=ask)
    first.start()
    time.sleep(1.0)  # the first holds the only slot, proving
    ask()
    first.join(300)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 503]
    busy = next(answer for answer in answers if answer.status_code == 503)
    assert int(busy.headers["retry-after"]) >= 1
    assert busy.json()["error"]["code"] == "serve/busy"

    slow = start_peer("alice", Limits(prove_timeout_s=0.5))
    document = sign_request(bob.identity, "prove", alice_template.model, [MLP_INPUT], now_ms()).document
    timed_out = httpx.post(f"{slow.url}/v1/prove", json=document, timeout=60)
    assert (timed_out.status_code, timed_out.json()["error"]["code"]) == (504, "serve/prove-timeout")
    repo = slow.repo()
    assert len([e for e in repo.ledger.entries(repo.identity.did) if e.type == "receipt"]) == 1  # only the first
    repo.close()


def test_a_proof_past_the_limit_is_proved_in_process_and_its_prover_group_killed(
    start_peer: StartPeer, alice_template: AliceTemplate, alice_home: Path, bob: Repo
) -> None:
    """The peer serves from this test process: every process it starts is a descendant of it. The proof runs
    through the library (the zk child module, no `python -m zkreg prove`), and at the limit that child is gone."""
    slow = start_peer("alice", Limits(prove_timeout_s=1.5))  # the MLP's proof takes 3 s or more on this machine
    seen: dict[int, list[list[bytes]]] = {}
    """Every command line each descendant had (a pid's changes at exec, and is empty once it has exited)."""
    answered = threading.Event()

    def watch() -> None:
        while not answered.is_set():
            for pid, command in descendants(os.getpid()).items():
                if command not in seen.setdefault(pid, []):
                    seen[pid].append(command)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        document = sign_request(bob.identity, "prove", alice_template.model, [MLP_INPUT], now_ms()).document
        timed_out = httpx.post(f"{slow.url}/v1/prove", json=document, timeout=120)
    finally:
        answered.set()
        watcher.join()
    assert (timed_out.status_code, timed_out.json()["error"]["code"]) == (504, "serve/prove-timeout")
    provers = [pid for pid, commands in seen.items() if any(b"zkreg.zk.ezkl_child" in c for c in commands)]
    assert provers, "the proving child was never seen"
    clis = [c for commands in seen.values() for c in commands if b"zkreg" in c and b"prove" in c]
    assert clis == [], "the provider ran its own CLI"
    deadline = time.monotonic() + 30
    while any(running(pid) for pid in provers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in provers if running(pid)] == [], "the proving child outlived the limit"
    assert not list((alice_home / "serve").iterdir()), "no input or bundle file is left"


def test_request_for_a_private_models_weights_circuit_or_key_is_refused(
    start_peer: StartPeer, alice_template: AliceTemplate, alice_home: Path, tmp_path: Path
) -> None:
    from zkreg.registry.unixfs import PROFILES
    from zkreg.zk.workflow import file_cid

    alice = start_peer("alice")
    repo = alice.repo()
    manifest = repo.manifest(alice_template.model)
    repo.close()
    for path in manifest.files:  # the published zk artefacts are served
        assert httpx.get(f"{alice.url}/v1/blocks/{manifest.files[path]}").status_code == 200
    cache = alice_home / "zk" / "cache"
    keys, circuits = sorted(cache.rglob("pk.key")), sorted(cache.rglob("circuit.ezkl"))
    assert keys  # the proving keys and compiled circuits (both hold the weights) ...
    assert circuits
    private = [alice_template.home.parent / "mlp.onnx", *keys, *circuits]  # ... and the weights themselves
    for path in private:
        for profile in PROFILES.values():
            answer = httpx.get(f"{alice.url}/v1/blocks/{file_cid(path, profile)}")
            assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not-found/block"), path


def test_the_price_comes_from_the_manifest(
    start_peer: StartPeer, alice_template: AliceTemplate, alice_home: Path, bob: Repo
) -> None:
    alice = start_peer("alice", policy=Policy(newcomer_budget=2))  # a budget smaller than the price
    document = sign_request(bob.identity, "prove", alice_template.dear_model, [MLP_INPUT], now_ms()).document
    refused = httpx.post(f"{alice.url}/v1/prove", json=document, timeout=60)
    error = refused.json()["error"]
    assert (refused.status_code, error["code"], error["price"], error["exit_code"]) == (403, "policy/refused", 5, 5)
    assert "the price is 5" in error["message"]
    repo = alice.repo()
    assert repo.manifest(alice_template.dear_model).price == 5
    assert [e for e in repo.ledger.entries(alice.did) if e.type == "receipt"] == []
    repo.close()
