"""Who a provider serves: the Proof of Reputation policy of `zkreg serve`.

A request at price p is decided by three rules, in this order:

1. **Own standing** (rule `balance`, or `stake` when a vouch is needed): served if
   `balance - unpaid + free_quota + stake >= p`, where
   * `balance` is the requester's Proof of Reputation balance seen from this provider's trust roots (credit for
     others' counted uses of its artefacts, minus its own counted uses, plus/minus what vouches cover:
     `zkreg.reputation.score`),
   * `unpaid` counts the receipts this provider signed for it whose matching `use` it has not seen yet: a consumer
     that withholds its feed still pays for what it received,
   * `free_quota` is a starting allowance (in credits), given **only to identities with trust > 0** from the
     provider's roots: trust is what a new key cannot mint,
   * `stake` is what its counting vouches still stake for it: a vouch of the provider itself always counts (it
     gives away its own service); another voucher's counts if it has trust > 0, and only up to its balance.
2. **The newcomer budget** (rule `newcomer-budget`): whoever the first rule refuses, a fresh key or an identity
   that has spent its credit alike, draws on one budget shared by all of them: `newcomer_budget` credits of free
   proofs per sliding window of `newcomer_window_s` seconds. Minting keys therefore buys at most that many free
   proofs per window in total, however many keys; and a new name is never better off than a spent one, since the
   spent one may draw on the same budget.
3. Otherwise `Refused`, naming the rule that refused (`newcomer-budget` for an identity without trust or a
   counting vouch, `stake` for one whose stake is used up, `balance` for one with trust) and the numbers, with the
   time the budget frees up again.

The API the provider (and the incentive simulation) uses:
  * `vouch(ledger, identity, key, credits)` records a vouch (a signed `vouch` entry; 0 withdraws);
  * `standing(scores, provider, requester, unpaid)` reads what the policy needs about a requester from the
    scores, `unpaid_receipts(ledger, provider, requester)` the unpaid count;
  * `decide_request(standing, price, policy, budget, now_ms)` decides, drawing on `budget` (a `NewcomerBudget`:
    `MemoryNewcomerBudget` here, `zkreg.peer.store.PeerStore` on disk) when rule 2 applies; a served `Decision`
    whose service then fails gives its draw back with `budget.release(decision.draw)`.
`budget_window` is the pure rule of the budget; `decide` the pure rule 1 without vouches and budget (as before).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from zkreg.errors import Refused
from zkreg.identity import Identity
from zkreg.reputation.entry import Entry
from zkreg.reputation.ledger import Ledger
from zkreg.reputation.score import Scores

DEFAULT_PRICE = 1
DEFAULT_FREE_QUOTA = 2.0
DEFAULT_NEWCOMER_BUDGET = 10
"""Free proofs (credits) per window shared by every identity the provider's roots do not vouch for."""
DEFAULT_NEWCOMER_WINDOW_S = 3600.0

RULE_BALANCE = "balance"
RULE_STAKE = "stake"
RULE_NEWCOMER = "newcomer-budget"


@dataclass(frozen=True)
class Policy:
    free_quota: float = DEFAULT_FREE_QUOTA
    default_price: int = DEFAULT_PRICE
    newcomer_budget: int = DEFAULT_NEWCOMER_BUDGET
    newcomer_window_s: float = DEFAULT_NEWCOMER_WINDOW_S

    @property
    def newcomer_window_ms(self) -> int:
        return round(self.newcomer_window_s * 1000)


@dataclass(frozen=True)
class Draw:
    """Credits drawn on the newcomer budget at `ts_ms`."""

    ts_ms: int
    amount: int


@dataclass(frozen=True)
class BudgetWindow:
    """The newcomer budget as a request at price `price` finds it at `now_ms`."""

    used: int
    """Credits drawn within the window ending now."""
    limit: int
    window_s: float
    price: int
    until_ms: int | None
    """When the window frees enough for `price` (None if it has room now, or if `price` exceeds `limit`)."""

    @property
    def has_room(self) -> bool:
        return self.used + self.price <= self.limit

    def to_json(self) -> dict[str, object]:
        """Flat, prefixed `newcomer_`: an error object carries only scalars (`zkreg.peer.answers.ErrorAnswer`)."""
        return {
            "newcomer_used": self.used,
            "newcomer_budget": self.limit,
            "newcomer_window_s": self.window_s,
            "newcomer_until": None if self.until_ms is None else _time(self.until_ms),
            "newcomer_until_ms": self.until_ms,
        }


NOT_CONSULTED: dict[str, object] = dict.fromkeys(
    ("newcomer_used", "newcomer_budget", "newcomer_window_s", "newcomer_until", "newcomer_until_ms")
)


def budget_window(draws: Iterable[Draw], price: int, now_ms: int, policy: Policy) -> BudgetWindow:
    """The budget at `now_ms` given earlier `draws`: a draw counts while `now_ms - ts_ms < window`, so in any
    window-long interval at most `newcomer_budget` credits are drawn."""
    window = policy.newcomer_window_ms
    live = sorted((draw for draw in draws if now_ms - draw.ts_ms < window), key=lambda draw: draw.ts_ms)
    used = sum(draw.amount for draw in live)
    until: int | None = None
    excess = used + price - policy.newcomer_budget
    if excess > 0 and price <= policy.newcomer_budget:
        for draw in live:  # the oldest draws leave the window first
            excess -= draw.amount
            if excess <= 0:
                until = draw.ts_ms + window
                break
    return BudgetWindow(used, policy.newcomer_budget, policy.newcomer_window_s, price, until)


class NewcomerBudget(Protocol):
    """Where the newcomer budget's draws live. `take` decides with `budget_window` and records the draw in one
    atomic step (so concurrent requests cannot overdraw it): the window it saw, and the draw's id if it took."""

    def take(self, requester: str, price: int, now_ms: int, policy: Policy) -> tuple[BudgetWindow, int | None]: ...

    def release(self, draw: int) -> None:
        """Give back a draw whose service failed."""


class MemoryNewcomerBudget:
    """A `NewcomerBudget` in memory, for one process (the incentive simulation, tests of the pure rule)."""

    def __init__(self) -> None:
        self.draws: dict[int, Draw] = {}
        self._next = 1

    def take(self, requester: str, price: int, now_ms: int, policy: Policy) -> tuple[BudgetWindow, int | None]:
        window = budget_window(self.draws.values(), price, now_ms, policy)
        if not window.has_room:
            return window, None
        draw, self._next = self._next, self._next + 1
        self.draws[draw] = Draw(now_ms, price)
        return window, draw

    def release(self, draw: int) -> None:
        self.draws.pop(draw, None)


@dataclass(frozen=True)
class Standing:
    """What the policy knows about a requester, seen from one provider."""

    requester: str
    trust: float
    balance: float
    unpaid: int
    staked: float = 0.0
    """Latest credits of the vouches that count for it here."""
    stake: float = 0.0
    """What those vouches still stake for it (each: credits minus what they cover, within the voucher's balance)."""
    vouchers: tuple[str, ...] = ()

    @property
    def newcomer(self) -> bool:
        """No trust from the provider's roots and no vouch that counts here."""
        return self.trust <= 0 and not self.vouchers


def standing(scores: Scores, provider: str, requester: str, unpaid: int) -> Standing:
    """`requester`'s standing at `provider`, from scores seen from the provider's roots."""
    staked = stake = 0.0
    vouchers: list[str] = []
    for view in scores.stakes:
        if view.key != requester or view.credits <= 0 or requester in scores.forked:
            continue  # a proven equivocator is served as a newcomer at best
        if view.voucher == provider:
            usable = view.remaining
        elif scores.trust.get(view.voucher, 0.0) > 0:
            usable = min(view.remaining, max(0.0, scores.balance(view.voucher)))
        else:
            continue  # a vouch from an identity the roots do not trust is a Sybil's word
        vouchers.append(view.voucher)
        staked += view.credits
        stake += usable
    return Standing(
        requester,
        scores.trust.get(requester, 0.0),
        scores.balance(requester),
        unpaid,
        staked,
        stake,
        tuple(vouchers),
    )


@dataclass(frozen=True)
class Decision:
    requester: str
    balance: float
    unpaid: int
    free_quota: float
    price: int
    rule: str = RULE_BALANCE
    """The rule that served (or refused) the request: `balance`, `stake` or `newcomer-budget`."""
    trust: float = 0.0
    stake: float = 0.0
    staked: float = 0.0
    newcomer: BudgetWindow | None = None
    """The newcomer budget as the request found it (None if the requester's own standing served it)."""
    draw: int | None = None
    """The budget draw that served it, to `release` if the service fails."""

    @property
    def available(self) -> float:
        """What the requester's own standing affords: balance - unpaid + free quota + stake."""
        return self.balance - self.unpaid + self.free_quota + self.stake

    def to_json(self) -> dict[str, object]:
        return {
            "requester": self.requester,
            "rule": self.rule,
            "trust": self.trust,
            "balance": self.balance,
            "unpaid": self.unpaid,
            "free_quota": self.free_quota,
            "staked": self.staked,
            "stake": self.stake,
            "price": self.price,
            "available": self.available,
            **(NOT_CONSULTED if self.newcomer is None else self.newcomer.to_json()),
        }

    def explain(self) -> str:
        """Why a refused request was refused, with the numbers."""
        own = (
            f"balance {self.balance:.3f}, {self.unpaid} unpaid receipt(s), free quota {self.free_quota:g}, "
            f"stake {self.stake:g} of {self.staked:g} vouched: {self.available:.3f} available, the price is "
            f"{self.price}"
        )
        if self.rule == RULE_NEWCOMER:
            head = f"{self.requester} has no trust from this provider's roots and no vouch that counts here"
        elif self.rule == RULE_STAKE:
            head = f"the stake vouched for {self.requester} is used up"
        else:
            head = f"{self.requester} has spent its balance"
        return f"refused ({self.rule}): {head} ({own}); {self._budget_text()}"

    def _budget_text(self) -> str:
        window = self.newcomer
        if window is None:
            return "the newcomer budget was not consulted"
        spent = f"{window.used} of {window.limit} credit(s) in the last {window.window_s:g} s"
        if window.until_ms is None:
            return f"the newcomer budget cannot cover it ({spent}, price {window.price})"
        return f"the shared newcomer budget is spent until {_time(window.until_ms)} ({spent})"


def decide(requester: str, balance: float, unpaid: int, price: int, policy: Policy) -> Decision:
    """Rule 1 alone, for an identity with trust and no vouch: raises `Refused` if it cannot afford the price."""
    decision = Decision(requester, balance, unpaid, policy.free_quota, price)
    if decision.available < price:
        raise Refused(decision)
    return decision


def decide_request(requester: Standing, price: int, policy: Policy, budget: NewcomerBudget, now_ms: int) -> Decision:
    """The decision for one request (the rules in the module docstring); raises `Refused` naming the rule."""
    quota = policy.free_quota if requester.trust > 0 else 0.0
    own = Decision(
        requester.requester,
        requester.balance,
        requester.unpaid,
        quota,
        price,
        trust=requester.trust,
        stake=requester.stake,
        staked=requester.staked,
    )
    if own.available >= price:
        unstaked = requester.balance - requester.unpaid + quota
        return replace(own, rule=RULE_BALANCE if unstaked >= price else RULE_STAKE)
    window, draw = budget.take(requester.requester, price, now_ms, policy)
    if draw is not None:
        return replace(own, rule=RULE_NEWCOMER, newcomer=window, draw=draw)
    if requester.newcomer:
        rule = RULE_NEWCOMER
    elif requester.trust > 0:
        rule = RULE_BALANCE
    else:
        rule = RULE_STAKE
    raise Refused(replace(own, rule=rule, newcomer=window))


def unpaid_receipts(ledger: Ledger, provider: str, consumer: str) -> int:
    """Receipts `provider` signed for `consumer` with no `use` by `consumer` for the same request in the ledger."""
    return ledger.unpaid_receipts(provider, consumer)


def vouch(ledger: Ledger, identity: Identity, key: str, credits: int) -> Entry:
    """Append `identity`'s signed vouch staking `credits` for `key` (replacing its earlier vouch; 0 withdraws)."""
    return ledger.append(identity, "vouch", {"peer": key, "credits": credits})


def _time(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
