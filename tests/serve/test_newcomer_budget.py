"""The cost of a new name (issue 11): fresh keys share one newcomer budget at a real `zkreg serve` (real proofs,
real HTTP, the real CLI), the budget survives a restart, concurrent draws on the real SQLite peer store never
overdraw it, and a provider's own vouch serves a member against its stake."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest

from tests.serve.conftest import AliceTemplate, StartPeer, zkreg_serve
from tests.serve.test_two_peers import entries_of, run_cli
from zkreg.api import Repo, VouchRequest, vouch_peer
from zkreg.app.remote import RemoteProveRequest, prove_remote
from zkreg.errors import ZkregError
from zkreg.peer.store import PeerStore
from zkreg.reputation.ledger import now_ms
from zkreg.reputation.policy import Policy

pytestmark = pytest.mark.slow


def fresh_key(home: Path) -> Path:
    """A new identity, as `zkreg init` makes one (what a freeloader mints after each refusal)."""
    Repo.init(home).close()
    return home


def test_three_fresh_keys_get_no_more_than_the_shared_newcomer_budget_even_across_a_restart(
    alice_template: AliceTemplate, alice_home: Path, input_file: Path, tmp_path: Path
) -> None:
    keys = [fresh_key(tmp_path / f"freeloader-{n}") for n in range(3)]
    budget = ("--newcomer-budget", "2", "--newcomer-window", "3600")

    asked = iter(range(100))

    def ask(home: Path, url: str) -> subprocess.CompletedProcess[str]:
        out = str(tmp_path / f"proof-{next(asked)}.json")
        return run_cli(
            home, "prove", alice_template.model, "--remote", url, "--input", str(input_file), "-o", out, "--json"
        )

    with zkreg_serve(alice_home, *budget) as url:
        # The loop of the issue: each fresh key asks twice. Per-identity quotas gave 2 each, 6 in all.
        answers = [ask(home, url) for home in keys for _ in range(2)]
    served = [answer for answer in answers if answer.returncode == 0]
    refused = [answer for answer in answers if answer.returncode == 5]
    assert (len(served), len(refused)) == (2, 4), [answer.stderr for answer in answers]
    error = json.loads(refused[-1].stdout)["error"]
    assert (error["code"], error["rule"], error["newcomer_used"], error["newcomer_budget"]) == (
        "policy/refused",
        "newcomer-budget",
        2,
        2,
    )
    assert f"spent until {error['newcomer_until']}" in error["message"]

    # A restart does not refill the budget: the draws are in the provider's peer store on disk.
    with zkreg_serve(alice_home, *budget) as url:
        again = ask(fresh_key(tmp_path / "freeloader-after-restart"), url)
    assert again.returncode == 5, again.stdout + again.stderr
    assert json.loads(again.stdout)["error"]["rule"] == "newcomer-budget"


def test_concurrent_draws_on_the_peer_store_never_overdraw_the_budget(tmp_path: Path) -> None:
    policy = Policy(newcomer_budget=7, newcomer_window_s=3600)
    path = tmp_path / "peer.db"
    PeerStore(path).close()
    granted: list[int] = []
    start = threading.Barrier(8)
    now = now_ms()

    def draw(worker: int) -> None:
        store = PeerStore(path)  # its own connection, as each request thread of the provider opens one
        try:
            start.wait()
            for attempt in range(5):
                _, taken = store.take(f"fresh-{worker}-{attempt}", 1, now + attempt, policy)
                if taken is not None:
                    granted.append(taken)
        finally:
            store.close()

    workers = [threading.Thread(target=draw, args=(n,)) for n in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(granted) == 7
    store = PeerStore(path)
    window, taken = store.take("late", 1, now + 10, policy)
    assert (window.used, taken) == (7, None)
    store.release(granted[0])
    assert store.take("late", 1, now + 11, policy)[1] is not None
    store.close()


def test_the_providers_own_vouch_serves_a_member_against_its_stake_then_refuses(
    start_peer: StartPeer,
    alice_template: AliceTemplate,
    alice_home: Path,
    input_file: Path,
    tmp_path: Path,
) -> None:
    alice = start_peer("alice", policy=Policy(newcomer_budget=0))
    member = Repo.init(tmp_path / "member")
    alice_repo = alice.repo()
    vouch_peer(alice_repo, VouchRequest(member.identity.did, 1))  # Alice's balance is 0: her own vouch still counts
    alice_repo.close()

    got = prove_remote(member, RemoteProveRequest(alice.url, alice_template.model, input_file, tmp_path / "p.json"))
    assert (got.decision["rule"], got.decision["balance"]) == ("stake", 0.0)
    with pytest.raises(ZkregError) as refused:
        prove_remote(member, RemoteProveRequest(alice.url, alice_template.model, input_file, tmp_path / "q.json"))
    assert (refused.value.code, refused.value.exit_code) == ("policy/refused", 5)
    assert "refused (stake): the stake vouched for" in refused.value.message
    assert len(entries_of(member, "use")) == 1
    member.close()
