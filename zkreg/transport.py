"""One mapping from httpx's exceptions to zkreg's errors, for every HTTP call zkreg makes (httpx's own
`map_exceptions` idea, turned around). Loaded only by network code (the IPFS store, the peer client), so httpx stays
out of `zkreg --help`.

The target says who is on the other end, and so which family each failure becomes: an IPFS node that cannot be
reached is a `BackendUnavailable`, a peer a `PeerUnreachable` or `PeerTimeout`; an answer whose encoding does not
decode is a malformed answer of that target.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from zkreg.errors import (
    BackendUnavailable,
    BadIpfsApi,
    BadUrl,
    IpfsMalformedAnswer,
    MalformedAnswer,
    PeerTimeout,
    PeerUnreachable,
    ZkregError,
)


class Target:
    """The other end of an HTTP call: builds the error for each kind of transport failure."""

    def bad_url(self, exc: Exception) -> ZkregError:
        raise NotImplementedError

    def timeout(self, what: str, exc: Exception) -> ZkregError:
        raise NotImplementedError

    def unreachable(self, what: str, exc: Exception) -> ZkregError:
        raise NotImplementedError

    def malformed(self, what: str, exc: Exception) -> ZkregError:
        raise NotImplementedError


@dataclass(frozen=True)
class PeerApi(Target):
    """Another peer's `zkreg serve`."""

    url: str

    def bad_url(self, exc: Exception) -> ZkregError:
        return BadUrl(f"not a peer URL: {self.url!r} ({exc})")

    def timeout(self, what: str, exc: Exception) -> ZkregError:
        return PeerTimeout(f"peer {self.url} did not answer {what} in time ({type(exc).__name__})")

    def unreachable(self, what: str, exc: Exception) -> ZkregError:
        return PeerUnreachable(
            f"peer {self.url} is unreachable or dropped the connection during {what}: {exc}",
            hint="is `zkreg serve` running there?",
        )

    def malformed(self, what: str, exc: Exception) -> ZkregError:
        return MalformedAnswer(f"peer {self.url}'s answer to {what} does not decode: {exc}")


@dataclass(frozen=True)
class IpfsApi(Target):
    """An IPFS node's HTTP API."""

    address: str
    hint: str

    def bad_url(self, exc: Exception) -> ZkregError:
        return BadIpfsApi(f"not an IPFS API address: {self.address!r} ({exc})", hint=self.hint)

    def timeout(self, what: str, exc: Exception) -> ZkregError:
        return BackendUnavailable(f"IPFS node at {self.address}: {what} did not answer in time", hint=self.hint)

    def unreachable(self, what: str, exc: Exception) -> ZkregError:
        return BackendUnavailable(f"IPFS node at {self.address}: {what} failed ({exc!r})", hint=self.hint)

    def malformed(self, what: str, exc: Exception) -> ZkregError:
        return IpfsMalformedAnswer(f"IPFS node at {self.address} sent an answer to {what} that does not decode: {exc}")


@contextmanager
def map_transport_errors(target: Target, what: str = "the request") -> Iterator[None]:
    """Raise the most specific zkreg error for an httpx failure inside the block (`what` names the call)."""
    import httpx

    try:
        yield
    except httpx.InvalidURL as exc:
        raise target.bad_url(exc) from None
    except httpx.TimeoutException as exc:  # (a TransportError: tested first)
        raise target.timeout(what, exc) from exc
    except httpx.DecodingError as exc:  # a content-encoding the body does not follow
        raise target.malformed(what, exc) from None
    except httpx.HTTPError as exc:  # connect, read, write, protocol, proxy, stream errors
        raise target.unreachable(what, exc) from exc
