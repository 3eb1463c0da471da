"""Peers talking to peers, transport and wire documents only: signed requests (`envelope`), every answer of a peer
parsed once (`answers`), what a peer remembers (`store`), the provider's bounds (`limits`) and the HTTP client
(`client`: `PeerClient`, `HttpFeedTransport`).

The workflows over them (`zkreg sync`, `peer add`, `pull --remote`, `prove --remote` and the provider's side of
`zkreg serve`) are in `zkreg.app` (`sync`, `remote`, `provider`); nothing here imports the application layer."""
