"""What a peer remembers about other peers, in SQLite (`peer.db` in the data dir): nonces seen (single use of
signed requests) and the peers added with `zkreg peer add`.

Same discipline as the index and the ledger: WAL, `synchronous=FULL`, one `BEGIN IMMEDIATE` transaction per write.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zkreg.errors import PeerStoreUnreadable, ReplayedRequest
from zkreg.peer.envelope import MAX_REQUEST_AGE_MS
from zkreg.storage import open_database, transaction

PEER_DB = "peer.db"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, requester TEXT NOT NULL, ts INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS nonces_ts ON nonces (ts)",
    "CREATE TABLE IF NOT EXISTS peers (url TEXT PRIMARY KEY, did TEXT NOT NULL, added INTEGER NOT NULL)",
)


@dataclass(frozen=True)
class Peer:
    url: str
    did: str
    added: int


class PeerStore:
    def __init__(self, path: Path) -> None:
        self.conn = open_database(path, _SCHEMA, what="the peer store", unreadable=PeerStoreUnreadable)

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
