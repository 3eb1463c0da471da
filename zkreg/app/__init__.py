"""The application layer: one module per use case, each a function taking the `Repo` (the composition root that
owns the open stores) and a typed, frozen request, returning a typed result; progress goes through a callback.

- `repo`: `Repo`, the data dir's identity, index, local store, ledger, IPFS node and zk workspace; ref reading.
- `publish`, `pull`, `verify`: an artefact into the store, out of it into a folder, and re-checked in place.
- `transfer`: artefact CARs (`export_car`, `import_car`) and ledger feed files (`export_feeds`, `import_feeds`).
- `gc`: the blocks nothing held reaches.
- `proofs`: zk proofs (`prove`, `verify_proof`), Proof of Reputation (`scores`) and its trust roots.
- `sync`, `remote`: with a peer over HTTP: feeds and evidence (`sync`, `add_peer`), and `pull_remote`,
  `prove_remote` (the peer's part, then `pull` / `proofs`).
- `provider`: the serve-side workflows behind `zkreg serve` (`Provider`) and the blocks it may serve.

Adapters (`zkreg.cli`, `zkreg.serve`) call only `zkreg.api` (which re-exports this layer) or `zkreg.app`.
"""
