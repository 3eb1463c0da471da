"""Who a provider serves: the Proof of Reputation policy of `zkreg serve`.

A requester is served a proof if `balance - unpaid + free_quota >= price`, where
  * `balance` is its Proof of Reputation balance seen from this provider's trust roots (credit for others'
    counted uses of its artefacts minus its own counted uses),
  * `unpaid` counts the receipts this provider signed for it whose matching `use` it has not seen yet: a consumer
    that withholds its feed still pays for what it received,
  * `free_quota` is a starting allowance (in credits) that lets a new identity try a model before it has
    contributed anything.
So a consumer that only takes runs out after `free_quota` proofs, and earns more service by contributing (others'
verified uses of its artefacts raise its balance). `decide` is pure; `unpaid_receipts` reads the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkreg.errors import Refused
from zkreg.reputation.ledger import Ledger

DEFAULT_PRICE = 1
DEFAULT_FREE_QUOTA = 2.0


@dataclass(frozen=True)
class Policy:
    free_quota: float = DEFAULT_FREE_QUOTA
    default_price: int = DEFAULT_PRICE


@dataclass(frozen=True)
class Decision:
    requester: str
    balance: float
    unpaid: int
    free_quota: float
    price: int

    @property
    def available(self) -> float:
        return self.balance - self.unpaid + self.free_quota

    def to_json(self) -> dict[str, object]:
        return {
            "requester": self.requester,
            "balance": self.balance,
            "unpaid": self.unpaid,
            "free_quota": self.free_quota,
            "price": self.price,
            "available": self.available,
        }


def decide(requester: str, balance: float, unpaid: int, price: int, policy: Policy) -> Decision:
    """The decision for one request; raises `Refused` if the requester cannot afford the price."""
    decision = Decision(requester, balance, unpaid, policy.free_quota, price)
    if decision.available < price:
        raise Refused(decision)
    return decision


def unpaid_receipts(ledger: Ledger, provider: str, consumer: str) -> int:
    """Receipts `provider` signed for `consumer` with no `use` by `consumer` for the same request in the ledger."""
    return ledger.unpaid_receipts(provider, consumer)
