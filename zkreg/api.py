"""The public Python API: `Repo` (the composition root) and one function per use case, each taking a typed request.
The CLI and the HTTP service are thin adapters over it. No logic lives here; see `zkreg.app`.

from zkreg.api import PublishRequest, PullRequest, Repo, publish, pull
with Repo.init(Path("~/.zkreg").expanduser()) as repo:     # or Repo.open() for ZKREG_HOME / the default
    result = publish(repo, PublishRequest(paths=[Path("model.onnx")], name="mnist"))
    pull(repo, PullRequest("mnist@1", Path("out")))
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from zkreg.app.cids import CidRequest, CidResult, PathCid, compute_cids
from zkreg.app.consensus import ConsensusRequest, consensus
from zkreg.app.evaluate import (
    EvalEstimate,
    EvalRequest,
    VerifyEvaluationRequest,
    estimate_evaluation,
    evaluate,
    verify_evaluation,
)
from zkreg.app.gc import GcRequest, GcResult, gc
from zkreg.app.graphs import LineageRequest, TrustGraphRequest, lineage_graph, trust_graph, write_svg
from zkreg.app.metrics import MetricsReport, MetricsRequest, ProvenMetric, proven_metrics
from zkreg.app.proofs import (
    ProveRequest,
    VerifyProofRequest,
    VouchRequest,
    prove,
    scores,
    trust_peer,
    trust_roots,
    verify_proof,
    vouch_peer,
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
from zkreg.app.verify import (
    SummaryVerdict,
    VerifyRequest,
    VerifyResult,
    VerifySummaryRequest,
    verify,
    verify_summary,
)
from zkreg.ci_policy import Policy, PolicyReport, RuleResult
from zkreg.registry.manifest import Manifest
from zkreg.reputation.consensus import Consensus
from zkreg.reputation.ledger import ImportReport
from zkreg.reputation.score import Reputation, Scores
from zkreg.reputation.sync import ExportResult
from zkreg.zk.evaluation import EvaluationResult, EvaluationVerdict
from zkreg.zk.workflow import ProofVerdict, ProveResult

if TYPE_CHECKING:
    from zkreg.app.provider import Provider
    from zkreg.app.remote import (
        RemoteProof,
        RemoteProveRequest,
        RemotePull,
        RemotePullRequest,
        prove_remote,
        pull_remote,
    )
    from zkreg.app.sync import SyncReport, SyncRequest, add_peer, sync

_WITH_A_PEER = {
    **dict.fromkeys(["SyncReport", "SyncRequest", "add_peer", "sync"], "zkreg.app.sync"),
    **dict.fromkeys(
        ["RemoteProof", "RemoteProveRequest", "RemotePull", "RemotePullRequest", "prove_remote", "pull_remote"],
        "zkreg.app.remote",
    ),
    "Provider": "zkreg.app.provider",
}
"""Names of the workflows with a peer, loaded on first use: they bring the HTTP stack (httpx, ~0.2 s), which a
local command never needs."""


def __getattr__(name: str) -> Any:
    if name in _WITH_A_PEER:
        return getattr(import_module(_WITH_A_PEER[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CarImport",
    "CidRequest",
    "CidResult",
    "Consensus",
    "ConsensusRequest",
    "EvalEstimate",
    "EvalRequest",
    "EvaluationResult",
    "EvaluationVerdict",
    "ExportCarRequest",
    "ExportFeedsRequest",
    "ExportResult",
    "GcRequest",
    "GcResult",
    "ImportCarRequest",
    "ImportFeedsRequest",
    "ImportReport",
    "LineageRequest",
    "Manifest",
    "MetricsReport",
    "MetricsRequest",
    "PathCid",
    "Policy",
    "PolicyReport",
    "ProofVerdict",
    "ProveRequest",
    "ProveResult",
    "ProvenMetric",
    "Provider",
    "PublishRequest",
    "PublishResult",
    "PullRequest",
    "PullResult",
    "PulledFile",
    "RefEntry",
    "RemoteProof",
    "RemoteProveRequest",
    "RemotePull",
    "RemotePullRequest",
    "Repo",
    "Reputation",
    "RuleResult",
    "Scores",
    "SummaryVerdict",
    "SyncReport",
    "SyncRequest",
    "TrustGraphRequest",
    "VerifyEvaluationRequest",
    "VerifyProofRequest",
    "VerifyRequest",
    "VerifyResult",
    "VerifySummaryRequest",
    "VouchRequest",
    "add_peer",
    "compute_cids",
    "consensus",
    "estimate_evaluation",
    "evaluate",
    "export_car",
    "export_feeds",
    "gc",
    "import_car",
    "import_feeds",
    "lineage_graph",
    "prove",
    "prove_remote",
    "proven_metrics",
    "publish",
    "pull",
    "pull_remote",
    "scores",
    "sync",
    "trust_graph",
    "trust_peer",
    "trust_roots",
    "verify",
    "verify_evaluation",
    "verify_proof",
    "verify_summary",
    "vouch_peer",
    "write_svg",
]
