"""Commands for zero-knowledge proofs: `zkreg prove`, `zkreg eval` (and proof and evaluation bundles in
`zkreg verify`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from zkreg.api import (
    EvalRequest,
    EvaluationVerdict,
    ProofVerdict,
    ProveRequest,
    VerifyEvaluationRequest,
    VerifyProofRequest,
    estimate_evaluation,
    evaluate,
    verify_evaluation,
    verify_proof,
)
from zkreg.api import prove as prove_locally
from zkreg.cli.app import JsonFlag, command_set, echo, open_repo
from zkreg.cli.render import emit_json, progress_for

if TYPE_CHECKING:
    from zkreg.app.remote import RemoteProof

commands = command_set()


@commands.command()
def prove(
    ref: Annotated[str, typer.Argument(help="Manifest CID, name@version or name (latest) of a zk-published model.")],
    input_file: Annotated[Path, typer.Option("--input", "-i", help="JSON: a list of numbers or {input_data}.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the proof bundle.")] = Path(
        "proof.json"
    ),
    remote: Annotated[str | None, typer.Option(help="Ask this peer (`zkreg serve` URL) that owns the model.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Run the model on an input and write a signed zero-knowledge proof bundle of the output.

    With --remote, the model's owner proves it (a signed request, served if this identity's reputation covers the
    price; exit 5 otherwise); the bundle is verified here before it is written and the use recorded.
    """
    repo = open_repo()
    if remote is not None:
        # local: httpx and jsonschema (~0.2 s) only for a peer
        from zkreg.app.remote import RemoteProveRequest, prove_remote

        show_remote_proof(prove_remote(repo, RemoteProveRequest(remote, ref, input_file, output)), json_out)
        return
    with progress_for(json_out) as progress:
        result = prove_locally(repo, ProveRequest(ref, input_file, output), progress)
    if json_out:
        emit_json(
            {
                "proof": str(result.path),
                "manifest": result.bundle["manifest"],
                "output": result.output,
                "cold": result.cold,
                "seconds": round(result.seconds, 3),
            }
        )
    else:
        echo(f"output {result.output}")
        how = "cold: circuit and key built" if result.cold else "warm"
        echo(f"proof  {result.path}  ({how}, {result.seconds:.1f} s)")


@commands.command("eval")
def eval_(
    model: Annotated[str, typer.Argument(help="Ref of a model published with an evaluation circuit.")],
    dataset: Annotated[str, typer.Option(help="Ref of a dataset with a row commitment (private: this owner's).")],
    rows: Annotated[int | None, typer.Option(min=1, help="Evaluate the first N rows; default all.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the evaluation bundle.")] = Path(
        "eval.json"
    ),
    attest: Annotated[bool, typer.Option("--attest", help="Append an attest entry naming the evaluation.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Prove how many rows of a committed dataset a committed model classifies correctly; write a signed
    evaluation bundle that anyone can verify without seeing a row or a weight."""
    repo = open_repo()
    request = EvalRequest(model, dataset, output, rows=rows, attest=attest)
    with progress_for(json_out) as progress:
        cost = estimate_evaluation(repo, request, progress)
    if not json_out:
        echo(f"estimate: {cost.describe()}")
    with progress_for(json_out) as progress:
        result = evaluate(repo, request, progress)
    if json_out:
        emit_json(
            {
                "evaluation": str(result.path),
                "model": result.bundle["model"],
                "dataset": result.bundle["dataset"],
                "rows": result.rows,
                "correct": result.correct,
                "accuracy": result.accuracy,
                "proofs": result.proofs,
                "seconds": round(result.seconds, 3),
                "estimate_seconds": round(cost.seconds, 1),
            }
        )
    else:
        echo(f"accuracy {result.accuracy} ({result.correct}/{result.rows} rows, {result.proofs} proofs)")
        echo(f"evaluation {result.path}  ({result.seconds:.1f} s)")


def verify_proof_command(bundle: Path, json_out: bool, attest: bool = False) -> None:
    """`zkreg verify PROOF_FILE`: called by `zkreg verify` when its argument is a file and not a known ref; an
    evaluation bundle is verified as one."""
    if _names_evaluation(bundle):
        _verify_evaluation_command(bundle, json_out, attest)
        return
    verdict = verify_proof(open_repo(), VerifyProofRequest(bundle))
    if json_out:
        emit_json(_verdict_json(verdict))
    else:
        manifest = verdict.manifest
        echo(f"ok proof for {manifest.name}@{manifest.version} ({verdict.mode} weights, {verdict.srs_kind} SRS)")
        echo(f"prover {verdict.prover}")
        echo(f"output {verdict.output}")
        if verdict.srs_kind == "dev":
            echo("warning: the model was set up with an insecure dev SRS; its owner could forge proofs")


def _names_evaluation(path: Path) -> bool:
    from zkreg.zk.evaluation import is_evaluation

    try:
        with path.open("rb") as stream:
            return is_evaluation(stream.read(4096))
    except OSError:
        return False


def _verify_evaluation_command(path: Path, json_out: bool, attest: bool) -> None:
    verdict: EvaluationVerdict = verify_evaluation(open_repo(), VerifyEvaluationRequest(path, attest=attest))
    model, dataset = verdict.model, verdict.dataset
    if json_out:
        emit_json(
            {
                "ok": True,
                "model": model.cid,
                "name": model.name,
                "version": model.version,
                "dataset": dataset.cid,
                "dataset_name": dataset.name,
                "rows": verdict.rows,
                "correct": verdict.correct,
                "accuracy": verdict.accuracy,
                "proofs": verdict.proofs,
                "evaluator": verdict.evaluator,
                "srs": verdict.srs_kind,
            }
        )
    else:
        echo(
            f"ok evaluation of {model.name}@{model.version} on {dataset.name}@{dataset.version}: "
            f"accuracy {verdict.accuracy} ({verdict.correct}/{verdict.rows} rows, {verdict.proofs} proofs)"
        )
        echo(f"evaluator {verdict.evaluator}")
        if verdict.srs_kind == "dev":
            echo("warning: the model was set up with an insecure dev SRS; its owner could forge proofs")


def _verdict_json(verdict: ProofVerdict) -> dict[str, object]:
    return {
        "ok": True,
        "manifest": verdict.manifest.cid,
        "name": verdict.manifest.name,
        "version": verdict.manifest.version,
        "prover": verdict.prover,
        "mode": verdict.mode,
        "srs": verdict.srs_kind,
        "input": verdict.input,
        "output": verdict.output,
    }


def show_remote_proof(result: RemoteProof, json_out: bool) -> None:
    """`zkreg prove --remote`'s output (the command itself lives with `prove`)."""
    if json_out:
        emit_json(
            {
                "proof": str(result.path),
                "proof_cid": result.proof,
                "receipt": result.receipt,
                "use": result.use,
                "output": result.output,
                "decision": result.decision,
            }
        )
    else:
        echo(f"output {result.output}")
        echo(f"proof  {result.path}  (verified here; the provider's receipt {result.receipt})")
