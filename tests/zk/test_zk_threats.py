"""The threats of issue 5, one test each, against real ezkl proofs. Each tampered bundle is what an attacker can
actually make: edits re-signed with the prover's own key, or proofs made with ezkl from other weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.zk.helpers import MLP_INPUT, ZkSession, resign
from tests.zk.models import build_mlp
from zkreg.api import ProveRequest, PublishRequest, VerifyProofRequest, prove, publish, verify_proof
from zkreg.errors import BadSignature, CidMismatch, IntegrityError, MalformedObject, ProofInvalid
from zkreg.identity import create_identity
from zkreg.registry.unixfs import profile_named
from zkreg.zk.bundle import PROOF_KEYS, canonical
from zkreg.zk.documents import CircuitSettings
from zkreg.zk.workflow import file_cid

pytestmark = pytest.mark.slow


def _verify_fails(session: ZkSession, bundle: dict[str, Any], code: str) -> ProofInvalid:
    path = session.write_bundle(bundle, f"{code.replace('/', '-')}.json")
    with pytest.raises(ProofInvalid) as caught:
        verify_proof(session.repo, VerifyProofRequest(path))
    assert caught.value.code == code
    assert caught.value.exit_code == 4
    return caught.value


def test_changed_output_resigned_by_the_prover_is_rejected(zk_session: ZkSession) -> None:
    bundle = zk_session.mlp_fixed.bundle_json()
    bundle["output"][0][1] = 42.0
    _verify_fails(zk_session, resign(bundle, zk_session.repo.identity), "proof/output-mismatch")


def test_changed_input_resigned_by_the_prover_is_rejected(zk_session: ZkSession) -> None:
    bundle = zk_session.mlp_hashed.bundle_json()
    bundle["input"][0][0] = 0.9
    _verify_fails(zk_session, resign(bundle, zk_session.repo.identity), "proof/input-mismatch")


def test_pretty_public_inputs_smuggled_into_the_proof_are_refused(zk_session: ZkSession) -> None:
    """ezkl does not cover `pretty_public_inputs`; a bundle carrying one (say, a nicer output) is malformed."""
    bundle = zk_session.mlp_fixed.bundle_json()
    bundle["proof"]["pretty_public_inputs"] = {"rescaled_outputs": [["1.0", "2.0", "3.0"]]}
    path = zk_session.write_bundle(resign(bundle, zk_session.repo.identity), "pretty.json")
    with pytest.raises(MalformedObject, match="pretty_public_inputs"):
        verify_proof(zk_session.repo, VerifyProofRequest(path))


def test_edited_instances_do_not_verify(zk_session: ZkSession) -> None:
    """Editing the output inside the proof's own instances (and the bundle to match) breaks the proof itself."""
    from zkreg.zk.ezkl_backend import untyped_ezkl

    ezkl = untyped_ezkl()
    bundle = zk_session.mlp_fixed.bundle_json()
    settings_file = zk_session.repo.store.root / bundle["settings"][-3:-1] / bundle["settings"]
    settings_scale = json.loads(settings_file.read_bytes())["model_output_scales"][0]
    forged = ezkl.float_to_felt(1.0, settings_scale, ezkl.PyInputType.F32)
    bundle["proof"]["instances"][0][-1] = forged
    bundle["output"][0][-1] = ezkl.felt_to_float(forged, settings_scale)
    _verify_fails(zk_session, resign(bundle, zk_session.repo.identity), "proof/does-not-verify")


def test_edit_without_the_provers_key_breaks_the_signature(zk_session: ZkSession) -> None:
    bundle = zk_session.mlp_fixed.bundle_json()
    bundle["output"][0][0] = 0.0
    path = zk_session.write_bundle(bundle, "unsigned-edit.json")
    with pytest.raises(BadSignature):
        verify_proof(zk_session.repo, VerifyProofRequest(path))


def test_bundle_signed_by_another_key_is_rejected(zk_session: ZkSession, tmp_path: Path) -> None:
    mallory = create_identity(tmp_path / "mallory", None)
    bundle = zk_session.mlp_fixed.bundle_json()
    body = {key: value for key, value in bundle.items() if key != "signature"}
    bundle["signature"] = mallory.sign(canonical(body)).hex()
    path = zk_session.write_bundle(bundle, "mallory.json")
    with pytest.raises(BadSignature):
        verify_proof(zk_session.repo, VerifyProofRequest(path))


def test_swapped_settings_are_rejected(zk_session: ZkSession) -> None:
    bundle = zk_session.mlp_fixed.bundle_json()
    other = zk_session.repo.show("mlp-hashed").zk
    assert other is not None
    bundle["settings"] = other["settings"]
    _verify_fails(zk_session, resign(bundle, zk_session.repo.identity), "proof/artefact-mismatch")


def test_bundle_from_another_backend_version_is_refused(zk_session: ZkSession) -> None:
    bundle = zk_session.mlp_fixed.bundle_json()
    bundle["backend"]["version"] = "22.0.0"
    _verify_fails(zk_session, resign(bundle, zk_session.repo.identity), "proof/version-mismatch")


def _attacker_proof(session: ZkSession, ref: str, folder: Path, seed: int) -> tuple[dict[str, Any], str]:
    """Mallory's proof for model `ref`'s published settings and SRS, made with her own weights (`seed`)."""
    workspace = session.repo.zk_workspace()
    zk = session.repo.show(ref).zk
    assert zk is not None
    settings, srs = workspace.fetch(zk["settings"], folder), workspace.fetch(zk["srs"], folder)
    backend = workspace.backend
    backend.compile(build_mlp(folder / "mallory.onnx", seed=seed), settings, folder / "circuit.ezkl")
    backend.setup(folder / "circuit.ezkl", srs, folder / "vk.key", folder / "pk.key", None)
    data = folder / "input.json"
    data.write_text(json.dumps({"input_data": [MLP_INPUT]}))
    backend.prove(folder / "circuit.ezkl", folder / "pk.key", srs, data, folder / "proof.json", None)
    proof = json.loads((folder / "proof.json").read_text())
    assert backend.verify(folder / "proof.json", settings, folder / "vk.key", srs) is None
    profile = profile_named(session.repo.show(ref).cid_profile)
    return {key: proof[key] for key in PROOF_KEYS if key in proof}, file_cid(folder / "vk.key", profile)


def _claim(session: ZkSession, ref: str, proof: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A bundle claiming Mallory's proof came from `ref`, outputs decoded honestly from her instances."""
    workspace = session.repo.zk_workspace()
    manifest = session.repo.show(ref)
    assert manifest.zk is not None
    settings = CircuitSettings.load(workspace.fetch(manifest.zk["settings"], folder))
    bundle = json.loads((session.mlp_fixed if ref == "mlp-fixed" else session.mlp_hashed).bundle.read_text())
    bundle["proof"] = proof
    bundle["output"] = workspace.backend.decode(proof["instances"], settings, manifest.zk["mode"]).outputs
    return resign(bundle, create_identity(folder / "mallory-id", None))


def test_fixed_mode_proof_from_other_weights_fails_under_the_published_vk(
    zk_session: ZkSession, tmp_path: Path
) -> None:
    proof, vk_cid = _attacker_proof(zk_session, "mlp-fixed", tmp_path, seed=1)
    zk = zk_session.repo.show("mlp-fixed").zk
    assert zk is not None
    assert vk_cid != zk["vk"], "fixed mode: the weights are in the vk"
    _verify_fails(zk_session, _claim(zk_session, "mlp-fixed", proof, tmp_path), "proof/does-not-verify")


def test_hashed_mode_same_architecture_other_weights_fails_the_commitment(
    zk_session: ZkSession, tmp_path: Path
) -> None:
    proof, vk_cid = _attacker_proof(zk_session, "mlp-hashed", tmp_path, seed=1)
    zk = zk_session.repo.show("mlp-hashed").zk
    assert zk is not None
    assert vk_cid == zk["vk"], "hashed mode: the vk does not depend on the weights, so the vk alone binds nothing"
    _verify_fails(zk_session, _claim(zk_session, "mlp-hashed", proof, tmp_path), "proof/commitment-mismatch")


@pytest.mark.parametrize("artefact", ["vk", "srs", "settings"])
def test_corrupted_published_block_is_caught(zk_session: ZkSession, artefact: str) -> None:
    zk = zk_session.repo.show("mlp-fixed").zk
    assert zk is not None
    block = zk_session.repo.store.root / zk[artefact][-3:-1] / zk[artefact]
    original = block.read_bytes()
    block.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    try:
        with pytest.raises(CidMismatch) as caught:
            verify_proof(zk_session.repo, VerifyProofRequest(zk_session.mlp_fixed.bundle))
        assert caught.value.exit_code == 4
    finally:
        block.write_bytes(original)
    assert verify_proof(zk_session.repo, VerifyProofRequest(zk_session.mlp_fixed.bundle)).output


def test_srs_file_not_matching_a_ceremony_hash_is_refused(zk_session: ZkSession, tmp_path: Path) -> None:
    fake = tmp_path / "kzg15.srs"
    fake.write_bytes(b"\x00" * 4096)
    before = zk_session.repo.ls()
    with pytest.raises(IntegrityError) as caught:
        publish(
            zk_session.repo,
            PublishRequest([build_mlp(tmp_path / "m.onnx", seed=3)], name="fake-srs", weights="private", srs=fake),
        )
    assert caught.value.code == "integrity/srs-unknown"
    assert zk_session.repo.ls() == before


def test_model_set_up_with_another_ezkl_version_is_refused_clearly(zk_session: ZkSession) -> None:
    from zkreg.errors import ZkFailed
    from zkreg.registry.manifest import build_and_sign

    repo = zk_session.repo
    current = repo.show("mlp-fixed")
    assert current.zk is not None
    cid, block = build_and_sign(
        repo.identity,
        kind="model",
        name="old-ezkl",
        version="1",
        created=current.created,
        files={path: (file_cid, current.sizes[path]) for path, file_cid in current.files.items()},
        tree=current.tree,
        parents=[],
        weights="private",
        dataset=None,
        message=None,
        zk={**current.zk, "version": "22.0.0"},
    )
    repo.store.put_block(cid, block)
    with pytest.raises(ZkFailed, match=r"ezkl 22\.0\.0") as caught:
        prove(repo, ProveRequest(cid, zk_session.folder / "mlp-input.json", zk_session.folder / "old.json"))
    assert caught.value.code == "zk/version-mismatch"
    assert caught.value.hint == "install ezkl==22.0.0"
