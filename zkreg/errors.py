"""One error tree. Each error has a stable machine-readable `code`, a process exit code and an optional hint.

The CLI renders these in one place (`zkreg.cli.main`); the library raises nothing else on bad input.
"""

from __future__ import annotations


class ZkregError(Exception):
    """Base of every error zkreg reports to a user."""

    code = "error"
    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        return {"error": body}


class UsageError(ZkregError):
    code = "usage"
    exit_code = 2


class InvalidInput(ZkregError):
    """The user's input (a file, a model, a name) cannot be used."""

    code = "input/invalid"


class StoreBusy(ZkregError):
    code = "store/busy"


class NotFound(ZkregError):
    code = "not-found"
    exit_code = 3


class IntegrityError(ZkregError):
    """Bytes, signatures, proofs or feeds that do not verify."""

    code = "integrity/failed"
    exit_code = 4


class CidMismatch(IntegrityError):
    code = "integrity/cid-mismatch"


class BadSignature(IntegrityError):
    code = "integrity/bad-signature"


class MalformedObject(IntegrityError):
    """A block that does not decode as the object it claims to be (CBOR, dag-pb, manifest schema)."""

    code = "integrity/malformed"


class MalformedAnswer(IntegrityError):
    """A peer answered, but its bytes fail our checks (size, JSON, depth, numbers, shape). Exit 4, not 6: the peer
    is reachable, and retrying will not make its answer verify."""

    code = "peer/malformed-answer"


class CarOversized(MalformedObject):
    """A CAR header, section or stream over its size cap."""

    code = "integrity/car-oversized"


class BadCircuitSettings(MalformedObject):
    """Circuit settings (a zk model's `zk/settings.json`) that are not JSON or lack the fields proofs need."""

    code = "integrity/zk-settings"


class PolicyRefused(ZkregError):
    code = "policy/refused"
    exit_code = 5


class BackendUnavailable(ZkregError):
    code = "backend/unavailable"
    exit_code = 6


class ProofInvalid(IntegrityError):
    """A proof bundle that does not verify, or does not bind to the published commitment."""

    code = "proof/invalid"


class ZkFailed(ZkregError):
    """A proving-system step that failed or was killed (out of memory, unsupported model, bad artefact)."""

    code = "zk/failed"
