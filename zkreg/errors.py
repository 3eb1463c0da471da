"""One error tree. Each stable error code is one class here, with its process exit code and HTTP status as class
attributes; families (`NotFound`, `IntegrityError`, `PolicyRefused`, ...) are base classes, so callers catch a
family and scripts test the code.

The CLI renders these in one place (`zkreg.cli.main`), the peer API in `zkreg.serve.app`; the library raises nothing
else on bad input. `error_classes()` is the registry of codes (built from this module's classes), used to read back
an error a peer reports and to generate the "Error codes" table of docs/cli.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from zkreg.reputation.ledger import ImportReport
    from zkreg.reputation.policy import Decision

_REGISTRY: dict[str, type[ZkregError]] = {}


class ZkregError(Exception):
    """Base of every error zkreg reports to a user."""

    code: ClassVar[str] = "error"
    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        code = cls.__dict__.get("code")
        if isinstance(code, str):  # a class that declares a code (not one whose code is data, like `ReportedError`)
            if code in _REGISTRY:
                raise TypeError(f"error code {code!r} is declared twice: {_REGISTRY[code].__name__}, {cls.__name__}")
            _REGISTRY[code] = cls

    def details(self) -> dict[str, object]:
        """Fields this error adds to its JSON object besides code, message and hint (a feed error's author, ...)."""
        return {}

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        body.update(self.details())
        return {"error": body}


def error_classes() -> dict[str, type[ZkregError]]:
    """Every stable code and the class that raises it."""
    return {ZkregError.code: ZkregError, **_REGISTRY}


def exit_code_for_status(status: int) -> int:
    """The exit code an HTTP error status stands for when a peer names no code we know: the exit code all our
    classes with that status share (5xx: the peer is unavailable, 6), else 1."""
    if status >= 500:
        return BackendUnavailable.exit_code
    exits = {cls.exit_code for cls in _REGISTRY.values() if cls.http_status == status}
    return exits.pop() if len(exits) == 1 else 1


def rebuild_error(code: str, message: str, *, hint: str | None, exit_code: int) -> ZkregError:
    """The error a zkreg process of ours reported as JSON (`to_json`), rebuilt as its class where that class takes
    only a message and hint; else a `ReportedError` keeping the code and exit code."""
    known = _REGISTRY.get(code)
    if known is not None and known.__init__ is ZkregError.__init__:
        return known(message, hint=hint)
    return ReportedError(code, message, exit_code=exit_code, hint=hint)


class ReportedError(ZkregError):
    """An error another process reported (a peer over HTTP, our own prover child): its code is data, kept as
    reported; its exit code is ours for a code we know, else the one given (bounded by the caller)."""

    def __init__(
        self,
        reported_code: str,
        message: str,
        *,
        exit_code: int,
        hint: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.reported_code = reported_code
        known = _REGISTRY.get(reported_code)
        self.reported_exit_code = known.exit_code if known is not None else exit_code
        self.fields = dict(fields or {})

    @property
    def code(self) -> str:  # type: ignore[override]
        return self.reported_code

    @property
    def exit_code(self) -> int:  # type: ignore[override]
        return self.reported_exit_code

    def details(self) -> dict[str, object]:
        return {**self.fields, "exit_code": self.exit_code}


class RemoteError(ReportedError):
    """An error a peer reported, as if it had happened here: the peer's code, message and hint; our exit code for
    a code we know, else the peer's (1-6 only) or its HTTP status's."""


class OperatingSystemError(ZkregError):
    """An operating-system call failed (a file that cannot be read or written, a full disk) outside any check."""

    code = "os-error"


class UsageError(ZkregError):
    """The command line is wrong (a flag, an argument)."""

    code = "usage"
    exit_code = 2
    http_status = 400


class BadUrl(UsageError):
    """A peer URL that httpx cannot parse."""

    code = "usage/bad-url"


# ---- bad input (exit 1) ----------------------------------------------------------------------------------------


class InvalidInput(ZkregError):
    """The user's input (a file, a model, a name) cannot be used."""

    code = "input/invalid"
    http_status = 400


class ConfigInvalid(InvalidInput):
    """The config file cannot be read, or holds unknown or mistyped settings."""

    code = "config/invalid"
    http_status = 500  # the server's own config: not the requester's fault


class UnsafePath(InvalidInput):
    """A manifest names a file path that would leave the output folder (absolute, `..`)."""

    code = "input/unsafe-path"


class DuplicatePath(InvalidInput):
    """Two paths given to publish would be stored under the same name."""

    code = "input/duplicate-path"


class SymlinkRefused(InvalidInput):
    """A path given to publish is, or contains, a symlink."""

    code = "input/symlink"


class NotAFile(InvalidInput):
    """A path given to publish is neither a regular file nor a directory of them."""

    code = "input/not-a-file"


class NothingToPublish(InvalidInput):
    """The paths given to publish hold no files."""

    code = "input/empty"


class BadName(InvalidInput):
    """An artefact name outside the allowed characters or length."""

    code = "input/bad-name"


class BadVersion(InvalidInput):
    """A version string outside the allowed characters or length."""

    code = "input/bad-version"


class SymlinkInTarget(InvalidInput):
    """A pull target, or a folder on the way to it, is a symlink."""

    code = "input/symlink-in-target"


class FileExists(InvalidInput):
    """A file a pull would write already exists, and --force was not given."""

    code = "input/file-exists"


class BadStore(InvalidInput):
    """`--store` names no known block store."""

    code = "input/bad-store"


class BadKind(InvalidInput):
    """`--kind` names no known artefact kind."""

    code = "input/bad-kind"


class BadWeights(InvalidInput):
    """`--weights` names no known weight visibility."""

    code = "input/bad-weights"


class NotAModel(InvalidInput):
    """A model-only option (--weights private, --zk, --calibration, --srs) given for another kind."""

    code = "input/not-a-model"


class NotADataset(InvalidInput):
    """`--dataset` names a manifest that is not a dataset."""

    code = "input/not-a-dataset"


class VersionExists(InvalidInput):
    """The name and version are already published."""

    code = "input/version-exists"


class ZkOneModel(InvalidInput):
    """`--zk` given for files that do not hold exactly one .onnx model."""

    code = "input/zk-one-model"


class BadCidProfile(InvalidInput):
    """`--cid-profile` (or `cid_profile` in config.toml or a manifest) names no known CID profile."""

    code = "input/bad-cid-profile"


class BadCid(InvalidInput):
    """Text that is not a zkreg CID (base32 CIDv1, sha2-256, a codec we know)."""

    code = "input/bad-cid"


class BadDid(InvalidInput):
    """Text that is not an Ed25519 did:key."""

    code = "input/bad-did"


class SelfVouch(InvalidInput):
    """`peer vouch` for one's own key: a stake for oneself would be credit out of nothing."""

    code = "input/self-vouch"


class BadPolicy(InvalidInput):
    """A `verify --policy` file that is not TOML, names an unknown rule, gives a rule a value of the wrong type or
    range, or lists an author that is not an Ed25519 did:key."""

    code = "input/bad-policy"


class OnnxInvalid(InvalidInput):
    """A model file that does not parse as ONNX or fails the ONNX checker."""

    code = "input/onnx-invalid"


class OnnxExternalData(InvalidInput):
    """An ONNX model whose weights live in external-data files that cannot be used (missing, outside, unsafe)."""

    code = "input/onnx-external-data"


class ZkUnsupportedModel(InvalidInput):
    """An ONNX model the proving system cannot take (an operator, a dynamic shape)."""

    code = "input/zk-unsupported-model"


class NotProvable(InvalidInput):
    """A model published without zk artefacts: there is nothing to prove with."""

    code = "input/not-provable"


class BadIpfsApi(InvalidInput):
    """An IPFS API address that is neither a multiaddr nor a URL."""

    code = "input/bad-ipfs-api"


class BadTimeout(InvalidInput):
    """The IPFS timeout setting is not a number of seconds."""

    code = "input/bad-timeout"


class BadEnv(InvalidInput):
    """An environment setting (ZKREG_ZK_MEMORY_GB, ...) that is not a number."""

    code = "input/bad-env"


class BadZkMode(InvalidInput):
    """`--zk` names no known proving mode, or `--zk-target` no known calibration target."""

    code = "input/bad-zk-mode"


class FileChanged(InvalidInput):
    """A file changed while it was being published."""

    code = "input/file-changed"


class InputTooLarge(InvalidInput):
    """A proving input file over its size cap."""

    code = "input/too-large"


class InputNotJson(InvalidInput):
    """A proving input file that is not bounded JSON."""

    code = "input/not-json"


class InputNotNumeric(InvalidInput):
    """A proving input that holds a non-numeric, non-finite or giant value."""

    code = "input/not-numeric"


class InputBadShape(InvalidInput):
    """A proving input whose shape is not the model's."""

    code = "input/bad-shape"


class SrsMissing(InvalidInput):
    """`--srs` names no file."""

    code = "input/srs-missing"


class SrsTooSmall(InvalidInput):
    """An SRS ceremony file for fewer logrows than the circuit needs."""

    code = "input/srs-too-small"


class DataFormatUnknown(InvalidInput):
    """A data file that is neither .csv nor .npz."""

    code = "input/data-format"


class DataRagged(InvalidInput):
    """A data file whose rows do not all have the header's columns (or x and y that do not line up)."""

    code = "input/data-ragged"


class DataNotNumeric(InvalidInput):
    """A data file with a feature cell that is not a number."""

    code = "input/data-not-numeric"


class DataNotFinite(InvalidInput):
    """A data file with a NaN or infinite feature."""

    code = "input/data-not-finite"


class DataMissingLabel(InvalidInput):
    """A data file without the label column (`--label`, default the last) or an empty label."""

    code = "input/data-no-label"


class DataTooLarge(InvalidInput):
    """A data file past the bounds (bytes, rows, columns, classes)."""

    code = "input/data-too-large"


class NoTable(InvalidInput):
    """`--private` or `--label` for a dataset without exactly one .csv or .npz file."""

    code = "input/no-table"


class EvalShapeMismatch(InvalidInput):
    """A model that cannot be evaluated (not one input and one output), or rows that do not fit its circuit."""

    code = "input/eval-shape"


class EvalNotSetUp(InvalidInput):
    """A model published without an evaluation circuit."""

    code = "input/eval-not-set-up"


class BadMetricsProof(InvalidInput):
    """`--metrics-proof` naming an evaluation of another model's weights."""

    code = "input/metrics-proof"


class RequestTooLarge(InvalidInput):
    """A request body over the server's cap."""

    code = "request/too-large"
    http_status = 413


class StoreBusy(ZkregError):
    """Another zkreg process holds the store or a database."""

    code = "store/busy"


class NoSpace(ZkregError):
    """The output folder has less free space than the artefact needs."""

    code = "store/no-space"


class IndexUnreadable(ZkregError):
    """The index database cannot be opened (not a database, unreadable)."""

    code = "store/index-unreadable"


class StatCacheUnreadable(ZkregError):
    """The stat cache cannot be opened (publish then hashes every file; never shown to a user)."""

    code = "store/stat-cache-unreadable"


class LedgerUnreadable(ZkregError):
    """The ledger database cannot be opened (not a database, unreadable)."""

    code = "feed/db-unreadable"


class PeerStoreUnreadable(ZkregError):
    """The peer store database cannot be opened (not a database, unreadable)."""

    code = "peer/db-unreadable"


class PassphraseRequired(ZkregError):
    """The identity key is encrypted and ZKREG_PASSPHRASE is not set."""

    code = "identity/passphrase-required"


class BadPassphrase(ZkregError):
    """ZKREG_PASSPHRASE does not decrypt the identity key."""

    code = "identity/bad-passphrase"


class IdentityExists(ZkregError):
    """`zkreg init` found an identity already there."""

    code = "identity/exists"


class IdentityUnreadable(ZkregError):
    """The identity key file cannot be read."""

    code = "identity/unreadable"


class IdentityDamaged(ZkregError):
    """The identity key file does not decode as a key (or is not its recorded did)."""

    code = "identity/damaged"


# ---- not found (exit 3) ----------------------------------------------------------------------------------------


class NotFound(ZkregError):
    """Something named is not here."""

    code = "not-found"
    exit_code = 3
    http_status = 404


class PathNotFound(NotFound):
    """A file or folder given on the command line does not exist."""

    code = "not-found/path"


class HomeNotFound(NotFound):
    """No zkreg data dir where ZKREG_HOME points."""

    code = "not-found/home"


class IdentityNotFound(NotFound):
    """The data dir holds no identity."""

    code = "not-found/identity"


class RefNotFound(NotFound):
    """No ref of that name (and version)."""

    code = "not-found/ref"


class ManifestNotFound(NotFound):
    """A manifest that is not held here (or a CID that is not a manifest)."""

    code = "not-found/manifest"


class BlockNotFound(NotFound):
    """A block that is neither in the local store nor on the IPFS node (or not public on this peer)."""

    code = "not-found/block"


class ProofNotFound(NotFound):
    """A proof bundle that is not held here."""

    code = "not-found/proof"


class PrivateRowsMissing(NotFound):
    """Evaluating on a private dataset in a data dir that does not hold its rows and salts."""

    code = "not-found/private-rows"


class ProvingKeyNotFound(NotFound):
    """No proving key here for a model whose weights are private to its owner."""

    code = "not-found/proving-key"


class ModelNotFound(NotFound):
    """A prove request for a manifest this peer did not publish as a zk model."""

    code = "not-found/model"


class FeedNotFound(NotFound):
    """No feed of that author in the ledger."""

    code = "not-found/feed"


class FeedFileNotFound(NotFound):
    """A feed file given to import does not exist."""

    code = "not-found/feed-file"


# ---- integrity (exit 4) ----------------------------------------------------------------------------------------


class IntegrityError(ZkregError):
    """Bytes, signatures, proofs or feeds that do not verify."""

    code = "integrity/failed"
    exit_code = 4
    http_status = 422


class CidMismatch(IntegrityError):
    """Bytes that do not hash to the CID they were asked or stored under."""

    code = "integrity/cid-mismatch"


class BadSignature(IntegrityError):
    """A signature that does not verify."""

    code = "integrity/bad-signature"


class UnsignedRequest(BadSignature):
    """No valid signature by the requester it names (unsigned, signed by another key, or edited after signing)."""

    code = "request/bad-signature"
    http_status = 401


class StaleRequest(IntegrityError):
    """A signed request older (or newer) than the server's window."""

    code = "request/stale"
    http_status = 401


class ReplayedRequest(IntegrityError):
    """A signed request whose nonce the server has already seen."""

    code = "request/replayed"
    http_status = 409


class LedgerDamaged(IntegrityError):
    """The ledger database fails SQLite's integrity check."""

    code = "feed/db-damaged"


class CarRootMissing(IntegrityError):
    """A CAR file whose header names a root it does not hold."""

    code = "integrity/car-root-missing"


class CarMissingBlock(IntegrityError):
    """A CAR file that lacks a block its DAG links to."""

    code = "integrity/car-missing-block"


class SrsUnknown(IntegrityError):
    """An SRS file whose SHA-256 is not that of a known KZG ceremony file."""

    code = "integrity/srs-unknown"


class MalformedObject(IntegrityError):
    """A block that does not decode as the object it claims to be (CBOR, dag-pb, manifest schema)."""

    code = "integrity/malformed"


class VsaMalformed(MalformedObject):
    """A verification summary (DSSE envelope of an in-toto Statement) that is not JSON of the expected shape."""

    code = "integrity/vsa-malformed"


class VsaSubjectMismatch(IntegrityError):
    """A verification summary whose subjects are not the files (by sha256) of the artefact it names."""

    code = "integrity/vsa-subject-mismatch"


class SizeMismatch(MalformedObject):
    """A file whose blocks add up to another size than its manifest or root says."""

    code = "integrity/size-mismatch"


class UnsupportedCid(MalformedObject):
    """A CID that is not CIDv1 sha2-256 raw, dag-pb or dag-cbor (what zkreg makes)."""

    code = "integrity/unsupported-cid"


class CarMalformed(MalformedObject):
    """A CAR file that does not parse (header, length prefix, section)."""

    code = "integrity/car-malformed"


class CarTruncated(MalformedObject):
    """A CAR file that ends inside a length prefix or section."""

    code = "integrity/car-truncated"


class CarOversized(MalformedObject):
    """A CAR header or section over its size cap."""

    code = "integrity/car-oversized"


class BadCircuitSettings(MalformedObject):
    """Circuit settings (a zk model's `zk/settings.json`) that are not JSON or lack the fields proofs need."""

    code = "integrity/zk-settings"


class MalformedEntry(MalformedObject):
    """Bytes that are not a well-formed ledger entry (size, CBOR, canonical form, schema)."""

    code = "feed/malformed-entry"


class OversizedImport(MalformedObject):
    """A feed import over its size cap."""

    code = "feed/oversized-import"


class MalformedCar(MalformedObject):
    """A feed CAR that does not parse."""

    code = "feed/malformed-car"


class MalformedRequest(MalformedObject):
    """A request body that is not a well-formed signed request."""

    code = "request/malformed"


class WrongAction(MalformedRequest):
    """A receipt request for a zk model, which this peer serves by proof instead."""

    code = "request/wrong-action"


class MalformedAnswer(IntegrityError):
    """A peer answered, but its bytes fail our checks (size, JSON, depth, numbers, shape). Exit 4, not 6: the peer
    is reachable, and retrying will not make its answer verify."""

    code = "peer/malformed-answer"


class FeedRejected(IntegrityError):
    """An entry that does not verify in its feed. Names the (author, seq) that failed."""

    code = "feed/invalid"

    def __init__(self, author: str, seq: int, reason: str) -> None:
        super().__init__(f"feed {author} entry {seq}: {reason}")
        self.author = author
        self.seq = seq

    def details(self) -> dict[str, object]:
        return {"author": self.author, "seq": self.seq}


class ForgedSignature(FeedRejected):
    """Not signed by the key the feed had at that seq (a wrong key, or a byte changed after signing)."""

    code = "feed/bad-signature"


class RevokedKeyUsed(FeedRejected):
    """Signed by a key the feed had rotated away from before this seq."""

    code = "feed/rotated-key"


class SeqGap(FeedRejected):
    """An entry that is not head + 1: reordered, or something in between was dropped."""

    code = "feed/seq-gap"


class BrokenChain(FeedRejected):
    """`prev` does not name the previous entry: spliced in from another feed or another branch."""

    code = "feed/broken-chain"


class ImplausibleTimestamp(FeedRejected):
    """A time before zkreg existed, in the future, or earlier than the previous entry."""

    code = "feed/bad-timestamp"


class UnsupportedKey(FeedRejected):
    """An author or `rotate.new_key` that looks like a did:key but is not an Ed25519 one (another multicodec, a
    wrong length): nothing it signs can verify, so its feed stops there like any other forgery."""

    code = "feed/unsupported-key"


class ForkedFeed(FeedRejected):
    """The author signed two different entries with the same seq; nothing more of that feed is accepted."""

    code = "feed/forked"


class FeedsRejected(IntegrityError):
    """An import that contained entries which do not verify (the valid extensions before them were kept). Its code
    is the first rejection's (`feed/bad-signature`, ...): what a script tests for."""

    def __init__(self, report: ImportReport) -> None:
        first = report.rejected[0]
        super().__init__(
            f"{len(report.rejected)} feed(s) did not verify; first: {first.message} "
            f"({report.accepted} valid entries accepted, nothing past a bad entry applied)"
        )
        self.report = report
        self.first = first
        self.author = first.author
        self.seq = first.seq

    @property
    def code(self) -> str:  # type: ignore[override]
        return self.first.code

    def details(self) -> dict[str, object]:
        return {"author": self.author, "seq": self.seq, "report": self.report.to_json()}


class ProofInvalid(IntegrityError):
    """A proof bundle that does not verify, or does not bind to the published commitment."""

    code = "proof/invalid"


class ProofNotZk(ProofInvalid):
    """The manifest a bundle names has no zk section to verify against."""

    code = "proof/not-zk"


class ProofArtefactMismatch(ProofInvalid):
    """A bundle made with other circuit artefacts than the manifest publishes."""

    code = "proof/artefact-mismatch"


class ProofVersionMismatch(ProofInvalid):
    """A bundle made with another proving-system version than the manifest's."""

    code = "proof/version-mismatch"


class ProofDoesNotVerify(ProofInvalid):
    """The proof fails verification against the published verifying key."""

    code = "proof/does-not-verify"


class ProofCommitmentMismatch(ProofInvalid):
    """The proof's weight commitment is not the published one."""

    code = "proof/commitment-mismatch"


class ProofInputMismatch(ProofInvalid):
    """The bundle's input is not the one the proof was made for (or not the one requested)."""

    code = "proof/input-mismatch"


class ProofOutputMismatch(ProofInvalid):
    """The bundle's output is not the output the proof attests."""

    code = "proof/output-mismatch"


class ProofInstancesShape(ProofInvalid):
    """A proof's public instances do not have the circuit's shape."""

    code = "proof/instances-shape"


class ProofDatasetMismatch(ProofInvalid):
    """An evaluation naming a dataset without the row commitment its proofs need."""

    code = "proof/dataset-mismatch"


class ProofRowNotCommitted(ProofInvalid):
    """An evaluation proof over a row that is not in the dataset's row commitment."""

    code = "proof/row-not-committed"


class ProofRowCountedTwice(ProofInvalid):
    """An evaluation that proves the same row in two proofs (or with two outcomes)."""

    code = "proof/row-counted-twice"


class ProofTotalMismatch(ProofInvalid):
    """An evaluation whose claimed rows, correct count or accuracy is not what its proofs give."""

    code = "proof/total-mismatch"


class ProofInstancesMalformed(ProofInvalid):
    """A proof's public instance that is not a field element."""

    code = "proof/instances-malformed"


# ---- policy (exit 5) -------------------------------------------------------------------------------------------


class PolicyRefused(ZkregError):
    """The peer's policy refuses the request."""

    code = "policy/refused"
    exit_code = 5
    http_status = 403


class Refused(PolicyRefused):
    """Not enough reputation for the price; names the rule that refused (`balance`, `stake` or `newcomer-budget`)
    and carries the numbers, so the requester can see how far off it is and when the newcomer budget frees up."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(
            decision.explain(),
            hint="contribute: publish artefacts others use, then `zkreg sync` with this peer; or ask a peer this "
            "provider trusts to `zkreg peer vouch` for you",
        )
        self.decision = decision

    def details(self) -> dict[str, object]:
        return self.decision.to_json()


class Throttled(PolicyRefused):
    """One key asked more often than its rate allows."""

    code = "policy/throttled"
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, hint=f"retry in {retry_after} s")
        self.retry_after = retry_after


class PolicyNotMet(PolicyRefused):
    """An artefact that verified but does not meet a `verify --policy` rule; carries every rule's result."""

    code = "policy/not-met"

    def __init__(self, subject: str, rules: list[dict[str, object]]) -> None:
        failed = [rule for rule in rules if not rule["passed"]]
        summary = "; ".join(f"{rule['rule']}: {rule['detail']}" for rule in failed)
        super().__init__(f"{subject}: {len(failed)} of {len(rules)} policy rule(s) not met: {summary}")
        self.subject = subject
        self.rules = rules

    def details(self) -> dict[str, object]:
        return {"subject": self.subject, "rules": self.rules}


# ---- backend unavailable (exit 6) ------------------------------------------------------------------------------


class BackendUnavailable(ZkregError):
    """A backend (an IPFS node, a peer) that cannot be reached or does not do what was asked."""

    code = "backend/unavailable"
    exit_code = 6
    http_status = 503


class GraphvizMissing(BackendUnavailable):
    """Graphviz's `dot`, which draws the lineage and trust graphs, is not installed."""

    code = "backend/graphviz-missing"


class IpfsRefused(BackendUnavailable):
    """The IPFS node answered a command with an error."""

    code = "backend/ipfs-refused"


class IpfsMalformedAnswer(BackendUnavailable):
    """The IPFS node's answer is not what the command returns."""

    code = "backend/ipfs-malformed"


class PeerUnreachable(BackendUnavailable):
    """The peer cannot be reached or dropped the connection."""

    code = "peer/unreachable"


class PeerTimeout(BackendUnavailable):
    """The peer did not answer in time."""

    code = "peer/timeout"


class RequestTimeout(BackendUnavailable):
    """A request body did not arrive within the server's time limit."""

    code = "request/timeout"
    http_status = 408


class ProveTimeout(BackendUnavailable):
    """A proof took longer than the server's limit and was stopped."""

    code = "serve/prove-timeout"
    http_status = 504


class ServerBusy(BackendUnavailable):
    """Every proving slot and queue place is taken; try again after `retry_after` seconds."""

    code = "serve/busy"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, hint=f"retry in {retry_after} s")
        self.retry_after = retry_after


# ---- zk (exit 1) -----------------------------------------------------------------------------------------------


class ZkFailed(ZkregError):
    """A proving-system step that failed or was killed (out of memory, unsupported model, bad artefact)."""

    code = "zk/failed"


class ZkChildKilled(ZkFailed):
    """The proving process died by a signal (out of memory, killed)."""

    code = "zk/child-killed"


class ZkChildFailed(ZkFailed):
    """The proving process exited without a result."""

    code = "zk/child-failed"


class ZkStepFailed(ZkFailed):
    """A proving-system step reported an error."""

    code = "zk/step-failed"


class ZkTooLarge(ZkFailed):
    """Setting up the circuit would need more memory than is available."""

    code = "zk/too-large"


class ZkVersionMismatch(ZkFailed):
    """The installed proving system is not the version the artefacts were made with."""

    code = "zk/version-mismatch"


class ZkVkMismatch(ZkFailed):
    """The rebuilt verifying key is not the published one; nothing is proved with it."""

    code = "zk/vk-mismatch"


class ZkExternalDataMissing(ZkFailed):
    """The model reads external data its manifest does not publish."""

    code = "zk/external-data-missing"


class ZkCacheDamaged(ZkregError):
    """A private zk cache entry that cannot be read (its meta.json)."""

    code = "zk/cache-damaged"
