"""The policy's arithmetic and the provider's bounds, in process (the HTTP tests cover their wiring)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.reputation.ledger_helpers import feed, identity, manifest_cid
from zkreg.errors import Refused, ServerBusy, Throttled
from zkreg.peer.limits import ProvingGate, RateLimiter
from zkreg.reputation.ledger import Ledger
from zkreg.reputation.policy import Policy, decide, unpaid_receipts

PROVIDER, CONSUMER = identity("provider"), identity("consumer")


@pytest.mark.parametrize(
    ("balance", "unpaid", "price", "served"),
    [
        (0.0, 0, 1, True),  # an identity with trust spends its free quota ...
        (-1.0, 0, 1, True),
        (-2.0, 0, 1, False),  # ... and is refused once it is spent
        (-1.0, 1, 1, False),  # a receipt whose use was withheld still counts against it
        (-1.0, 0, 2, False),  # a dearer model
        (1.0, 0, 3, True),  # contributions raise what it may spend
    ],
)
def test_policy_serves_within_balance_plus_free_quota(balance: float, unpaid: int, price: int, served: bool) -> None:
    policy = Policy(free_quota=2.0)
    if served:
        assert decide("did:key:z6Mkx", balance, unpaid, price, policy).available >= price
    else:
        with pytest.raises(Refused) as refused:
            decide("did:key:z6Mkx", balance, unpaid, price, policy)
        assert refused.value.exit_code == 5
        body = refused.value.to_json()["error"]
        assert isinstance(body, dict)
        assert (body["balance"], body["price"], body["unpaid"]) == (balance, price, unpaid)
        assert f"balance {balance:.3f}" in refused.value.message
        assert f"price is {price}" in refused.value.message


def test_receipts_without_the_consumers_use_are_unpaid(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    receipts = [
        ("receipt", {"request": f"r{n}", "consumer": CONSUMER.did, "proof": None, "output_hash": "00" * 32})
        for n in range(3)
    ]
    ledger.import_blocks(entry.block for entry in feed(PROVIDER, receipts))
    assert unpaid_receipts(ledger, PROVIDER.did, CONSUMER.did) == 3
    use = {"manifest": manifest_cid("m"), "provider": PROVIDER.did, "request": "r1"}
    ledger.import_blocks(entry.block for entry in feed(CONSUMER, [("use", use)]))
    assert unpaid_receipts(ledger, PROVIDER.did, CONSUMER.did) == 2
    ledger.close()


def test_proving_gate_admits_active_plus_queued_and_refuses_the_rest_with_retry_after() -> None:
    gate = ProvingGate(max_active=1, max_queued=1, queue_timeout_s=5)
    release = threading.Event()
    inside = threading.Event()
    outcomes: list[str] = []

    def hold() -> None:
        with gate.slot():
            inside.set()
            release.wait(5)
        outcomes.append("served")

    workers = [threading.Thread(target=hold) for _ in range(2)]
    workers[0].start()
    assert inside.wait(5)
    workers[1].start()  # queued behind the first
    time.sleep(0.1)
    with pytest.raises(ServerBusy) as busy, gate.slot():
        pass
    assert busy.value.retry_after >= 1
    assert busy.value.exit_code == 6
    release.set()
    for worker in workers:
        worker.join(5)
    assert outcomes == ["served", "served"]
    with gate.slot():  # free again
        pass


def test_rate_limiter_refills_over_time_per_key() -> None:
    now = [0.0]
    limiter = RateLimiter(burst=2, per_second=0.5, clock=lambda: now[0])
    limiter.take("a")
    limiter.take("a")
    with pytest.raises(Throttled) as throttled:
        limiter.take("a")
    assert throttled.value.retry_after == 2
    limiter.take("b")
    now[0] = 2.0
    limiter.take("a")
