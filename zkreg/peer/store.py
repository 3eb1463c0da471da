"""What a peer remembers about other peers, in SQLite (`peer.db` in the data dir): nonces seen (single use of
signed requests), the peers added with `zkreg peer add`, and the draws on the serving newcomer budget (so a
restart does not refill it).

Same discipline as the index and the ledger: WAL, `synchronous=FULL`, one `BEGIN IMMEDIATE` transaction per write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zkreg.errors import PeerStoreUnreadable, ReplayedRequest
from zkreg.peer.envelope import MAX_REQUEST_AGE_MS
from zkreg.reputation.policy import BudgetWindow, Draw, Policy, budget_window
from zkreg.storage import Migration, open_database, transaction

PEER_DB = "peer.db"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, requester TEXT NOT NULL, ts INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS nonces_ts ON nonces (ts)",
    "CREATE TABLE IF NOT EXISTS peers (url TEXT PRIMARY KEY, did TEXT NOT NULL, added INTEGER NOT NULL)",
)
_NEWCOMER_DRAWS = (
    "CREATE TABLE newcomer_draws (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, requester TEXT NOT NULL, "
    "amount INTEGER NOT NULL)",
    "CREATE INDEX newcomer_draws_ts ON newcomer_draws (ts)",
)


def _add_newcomer_draws(conn: sqlite3.Connection) -> None:
    """Version 1: the newcomer budget's draws."""
    for statement in _NEWCOMER_DRAWS:
        conn.execute(statement)


_MIGRATIONS: Sequence[Migration] = (_add_newcomer_draws,)


@dataclass(frozen=True)
class Peer:
    url: str
    did: str
    added: int


class PeerStore:
    def __init__(self, path: Path) -> None:
        self.conn = open_database(
            path,
            (*_SCHEMA, *_NEWCOMER_DRAWS),
            what="the peer store",
            unreadable=PeerStoreUnreadable,
            migrations=_MIGRATIONS,
        )

    def close(self) -> None:
        self.conn.close()

    # ---- nonces ----------------------------------------------------------------------------------------------

    def use_nonce(self, nonce: str, requester: str, ts: int, now_ms: int) -> None:
        """Record a nonce as used, or raise `ReplayedRequest` if it was used before (by anyone).

        Nonces whose requests are too old to pass the freshness check anyway are forgotten in the same
        transaction, so the table stays as small as the traffic of the last few minutes.
        """
        with transaction(self.conn):
            self.conn.execute("DELETE FROM nonces WHERE ts < ?", (now_ms - 2 * MAX_REQUEST_AGE_MS,))
            inserted = self.conn.execute(
                "INSERT OR IGNORE INTO nonces (nonce, requester, ts) VALUES (?, ?, ?)", (nonce, requester, ts)
            ).rowcount
        if not inserted:
            raise ReplayedRequest(f"request nonce {nonce} was already used; a signed request is good for one use")

    # ---- the newcomer budget (a `zkreg.reputation.policy.NewcomerBudget`) -------------------------------------

    def take(self, requester: str, price: int, now_ms: int, policy: Policy) -> tuple[BudgetWindow, int | None]:
        """Draw `price` on the newcomer budget if its window has room: the check and the draw in one transaction,
        so concurrent requests (threads or processes) cannot overdraw it. Draws that left the window are dropped."""
        with transaction(self.conn):
            self.conn.execute("DELETE FROM newcomer_draws WHERE ts <= ?", (now_ms - policy.newcomer_window_ms,))
            rows = self.conn.execute("SELECT ts, amount FROM newcomer_draws").fetchall()
            window = budget_window((Draw(row["ts"], row["amount"]) for row in rows), price, now_ms, policy)
            if not window.has_room:
                return window, None
            cursor = self.conn.execute(
                "INSERT INTO newcomer_draws (ts, requester, amount) VALUES (?, ?, ?)", (now_ms, requester, price)
            )
        return window, cursor.lastrowid

    def release(self, draw: int) -> None:
        """Give back a draw whose service failed."""
        with transaction(self.conn):
            self.conn.execute("DELETE FROM newcomer_draws WHERE id = ?", (draw,))

    # ---- peers -----------------------------------------------------------------------------------------------

    def add_peer(self, url: str, did: str, now_ms: int) -> bool:
        """Remember a peer (its URL and the identity it answered with); False if it was known with that identity."""
        with transaction(self.conn):
            row = self.conn.execute("SELECT did FROM peers WHERE url = ?", (url,)).fetchone()
            if row is not None and row["did"] == did:
                return False
            self.conn.execute(
                "INSERT INTO peers (url, did, added) VALUES (?, ?, ?) "
                "ON CONFLICT (url) DO UPDATE SET did = excluded.did, added = excluded.added",
                (url, did, now_ms),
            )
        return True

    def peers(self) -> list[Peer]:
        return [Peer(row["url"], row["did"], row["added"]) for row in self.conn.execute("SELECT * FROM peers")]
