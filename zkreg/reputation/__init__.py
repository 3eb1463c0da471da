"""The reputation ledger: entry (codec) -> verify (pure verdicts) -> ledger (SQLite feeds) -> sync (transports)
-> score (Proof of Reputation). Each stage a module; only `ledger` and `sync` do I/O."""
