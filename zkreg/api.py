"""The public Python API: `Repo` (the composition root) and one function per use case, each taking a typed request.
The CLI and the HTTP service are thin adapters over it. No logic lives here; see `zkreg.app`.

from zkreg.api import PublishRequest, PullRequest, Repo, publish, pull
with Repo.init(Path("~/.zkreg").expanduser()) as repo:     # or Repo.open() for ZKREG_HOME / the default
    result = publish(repo, PublishRequest(paths=[Path("model.onnx")], name="mnist"))
    pull(repo, PullRequest("mnist@1", Path("out")))
"""

from zkreg.app.gc import GcRequest, GcResult, gc
from zkreg.app.proofs import (
    ProveRequest,
    VerifyProofRequest,
    prove,
    scores,
    trust_peer,
    trust_roots,
    verify_proof,
)
from zkreg.app.publish import PublishRequest, PublishResult, publish
from zkreg.app.pull import PulledFile, PullRequest, PullResult, pull
from zkreg.app.repo import RefEntry, Repo
from zkreg.app.transfer import (
    CarImport,
    ExportCarRequest,
    ExportFeedsRequest,
    ImportCarRequest,
    ImportFeedsRequest,
    export_car,
    export_feeds,
    import_car,
    import_feeds,
)
from zkreg.app.verify import VerifyRequest, VerifyResult, verify
from zkreg.registry.manifest import Manifest
from zkreg.reputation.ledger import ImportReport
from zkreg.reputation.score import Reputation, Scores
from zkreg.reputation.sync import ExportResult
from zkreg.zk.workflow import ProofVerdict, ProveResult

__all__ = [
    "CarImport",
    "ExportCarRequest",
    "ExportFeedsRequest",
    "ExportResult",
    "GcRequest",
    "GcResult",
    "ImportCarRequest",
    "ImportFeedsRequest",
    "ImportReport",
    "Manifest",
    "ProofVerdict",
    "ProveRequest",
    "ProveResult",
    "PublishRequest",
    "PublishResult",
    "PullRequest",
    "PullResult",
    "PulledFile",
    "RefEntry",
    "Repo",
    "Reputation",
    "Scores",
    "VerifyProofRequest",
    "VerifyRequest",
    "VerifyResult",
    "export_car",
    "export_feeds",
    "gc",
    "import_car",
    "import_feeds",
    "prove",
    "publish",
    "pull",
    "scores",
    "trust_peer",
    "trust_roots",
    "verify",
    "verify_proof",
]
