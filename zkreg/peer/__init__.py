"""Peers talking to peers, built on `zkreg.api`: signed requests (`envelope`), what a peer remembers (`store`),
the provider's bounds (`limits`), the provider's side of `zkreg serve` (`provider`) and the HTTP client for
`zkreg sync`, `zkreg prove --remote` and `zkreg pull --remote` (`client`).

The HTTP app in `zkreg.serve` only adapts `provider` to routes; every check happens here."""
