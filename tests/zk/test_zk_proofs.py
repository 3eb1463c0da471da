"""Real ezkl proofs on tiny models: publish keeps private weights private, prove/verify round trips in both
modes, cold vs warm proving, and the CLI contract (`zkreg prove`, `zkreg verify PROOF --json`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.zk.helpers import MLP_INPUT, ZkSession, resign
from tests.zk.models import build_mlp, mlp_reference
from zkreg.api import ProveRequest, Repo, VerifyProofRequest, prove, verify_proof
from zkreg.errors import NotFound
from zkreg.registry.unixfs import PROFILES, profile_named
from zkreg.zk.cost import PROBE_LOGROWS, CostCache, CostPoint, CostProfile
from zkreg.zk.ezkl_backend import installed_version
from zkreg.zk.workflow import file_cid

pytestmark = pytest.mark.slow


def test_private_weights_publish_settings_vk_and_srs_but_not_the_model(zk_session: ZkSession) -> None:
    manifest = zk_session.repo.show("mlp-fixed")
    assert manifest.weights == "private"
    assert not any(name.endswith(".onnx") for name in manifest.files)
    zk = manifest.zk
    assert zk is not None
    assert zk["mode"] == "fixed"
    assert zk["srs_kind"] == "dev"
    assert zk["version"] == "23.0.5"
    assert {manifest.files["zk/settings.json"], manifest.files["zk/vk.key"]} == {zk["settings"], zk["vk"]}
    assert zk["srs"] in manifest.files.values()
    assert "params_commitment" not in zk
    model_cid = file_cid(zk_session.mlp_fixed.model)  # the zk cache's key: kubo-v1-legacy, whatever the manifest's
    for profile in PROFILES.values():
        model_root = file_cid(zk_session.mlp_fixed.model, profile)
        assert not zk_session.repo.store.has(model_root), "the private model's blocks must not enter the blockstore"
    entry = zk_session.repo.zk_workspace().cache.get(model_cid, zk["settings"])
    assert entry is not None
    assert entry.file("pk.key").stat().st_size > 0


def test_public_weights_publish_the_model_too(zk_session: ZkSession) -> None:
    manifest = zk_session.repo.show("conv")
    assert manifest.files["conv.onnx"] == file_cid(zk_session.conv_public.model, profile_named(manifest.cid_profile))
    assert manifest.zk is not None


def test_fixed_mode_proof_verifies_and_reports_the_models_output(zk_session: ZkSession) -> None:
    verdict = verify_proof(zk_session.repo, VerifyProofRequest(zk_session.mlp_fixed.bundle))
    assert verdict.manifest.cid == zk_session.mlp_fixed.cid
    assert verdict.prover == zk_session.repo.identity.did
    np.testing.assert_allclose(verdict.output[0], mlp_reference(0, MLP_INPUT), atol=0.02)
    assert verdict.input == [MLP_INPUT]


def test_hashed_mode_proof_verifies_and_carries_the_published_params_hash(zk_session: ZkSession) -> None:
    verdict = verify_proof(zk_session.repo, VerifyProofRequest(zk_session.mlp_hashed.bundle))
    manifest = zk_session.repo.show("mlp-hashed")
    assert manifest.zk is not None
    assert len(manifest.zk["params_commitment"]) == 1
    assert zk_session.mlp_hashed.bundle_json()["proof"]["instances"][0][0] == manifest.zk["params_commitment"][0]
    np.testing.assert_allclose(verdict.output[0], mlp_reference(0, MLP_INPUT), atol=0.02)


def test_conv_net_public_weights_prove_cold_then_warm(zk_session: ZkSession) -> None:
    repo = zk_session.repo
    manifest = repo.show("conv")
    assert manifest.zk is not None
    workspace = repo.zk_workspace()
    entry = workspace.cache.get(manifest.files["conv.onnx"], manifest.zk["settings"])
    assert entry is not None
    workspace.cache.remove(entry)
    cold = prove(
        repo, ProveRequest("conv", zk_session.folder / "conv-input.json", zk_session.folder / "conv-cold.json")
    )
    warm = prove(
        repo, ProveRequest("conv", zk_session.folder / "conv-input.json", zk_session.folder / "conv-warm.json")
    )
    assert cold.cold
    assert not warm.cold
    assert cold.output == warm.output
    for bundle in ("conv-cold.json", "conv-warm.json"):
        assert verify_proof(repo, VerifyProofRequest(zk_session.folder / bundle)).output == cold.output


def test_cli_prove_then_verify_json(zk_session: ZkSession, cli: Any) -> None:
    out = zk_session.folder / "cli-proof.json"
    proved = cli(
        "prove",
        "mlp-fixed",
        "--input",
        str(zk_session.folder / "mlp-input.json"),
        "-o",
        str(out),
        "--json",
        home_dir=zk_session.home,
    )
    assert proved.code == 0, proved.stderr
    verified = cli("verify", str(out), "--json", home_dir=zk_session.home)
    assert verified.code == 0, verified.stderr
    document = verified.json()
    assert document["ok"] is True
    assert document["manifest"] == zk_session.mlp_fixed.cid
    assert document["output"] == proved.json()["output"]


def test_cli_verify_tampered_bundle_exits_4_with_the_reason(zk_session: ZkSession, cli: Any) -> None:
    bundle = zk_session.mlp_fixed.bundle_json()
    bundle["output"][0][0] += 1.0
    unsigned = zk_session.write_bundle(bundle, "cli-tampered.json")
    resigned = zk_session.write_bundle(resign(bundle, zk_session.repo.identity), "cli-resigned.json")
    for path, code in ((unsigned, "integrity/bad-signature"), (resigned, "proof/output-mismatch")):
        result = cli("verify", str(path), "--json", home_dir=zk_session.home)
        assert result.code == 4
        assert result.json()["error"]["code"] == code
        assert f"error[{code}]" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_verifier_needs_only_the_published_blocks_and_cannot_prove_private_models(
    zk_session: ZkSession, tmp_path: Path
) -> None:
    """Another data dir holding only the published blocks (as after a pull or a CAR import): no owner's cache."""
    verifier = Repo.init(tmp_path / "verifier")
    try:
        shutil.copytree(zk_session.repo.store.root, verifier.store.root, dirs_exist_ok=True)
        assert not list((tmp_path / "verifier" / "zk" / "cache").glob("*/*"))
        verdict = verify_proof(verifier, VerifyProofRequest(zk_session.mlp_hashed.bundle))
        assert verdict.manifest.cid == zk_session.mlp_hashed.cid
        with pytest.raises(NotFound) as caught:
            prove(
                verifier,
                ProveRequest(zk_session.mlp_fixed.cid, zk_session.folder / "mlp-input.json", tmp_path / "p.json"),
            )
        assert caught.value.code == "not-found/proving-key"
    finally:
        verifier.close()


def test_cli_verify_still_takes_a_manifest_ref(zk_session: ZkSession, cli: Any) -> None:
    result = cli("verify", "mlp-fixed", "--json", home_dir=zk_session.home)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["cid"] == zk_session.mlp_fixed.cid


def test_cached_keys_from_another_ezkl_version_are_never_used(zk_session: ZkSession) -> None:
    repo = zk_session.repo
    manifest = repo.show("conv")
    assert manifest.zk is not None
    out = zk_session.folder / "conv-version.json"
    prove(repo, ProveRequest("conv", zk_session.folder / "conv-input.json", out))  # make sure an entry exists
    entry = repo.zk_workspace().cache.get(manifest.files["conv.onnx"], manifest.zk["settings"])
    assert entry is not None
    meta = json.loads(entry.file("meta.json").read_text())
    entry.file("meta.json").write_text(json.dumps({**meta, "version": "22.0.0"}))
    rebuilt = prove(repo, ProveRequest("conv", zk_session.folder / "conv-input.json", out))
    assert rebuilt.cold
    assert verify_proof(repo, VerifyProofRequest(out)).output == rebuilt.output


def test_the_first_zk_publish_of_a_data_dir_measures_this_machine_and_records_it(zk_session: ZkSession) -> None:
    cost = CostCache(zk_session.home / "zk" / "cost.json", "ezkl", installed_version())
    for mode in ("fixed", "hashed"):
        profile = cost.load(mode)
        assert profile is not None, mode
        assert tuple(point.logrows for point in profile.points) == PROBE_LOGROWS
        assert all(point.setup_s > 0 and point.prove_s > 0 and point.peak_bytes > 1 << 20 for point in profile.points)


def test_cli_publish_private_prints_the_estimate_from_this_machines_measurement_and_warns_about_the_dev_srs(
    cli: Any, tmp_path: Path
) -> None:
    assert cli("init").code == 0
    # A recorded measurement with figures no real run gives: the estimate printed must be extrapolated from it.
    cost = CostCache(cli.home / "zk" / "cost.json", "ezkl", installed_version())
    slow = (CostPoint(11, 0.0, 4096.0, 2048.0, 1 << 20), CostPoint(13, 0.0, 16384.0, 8192.0, 4 << 20))
    cost.record(CostProfile("fixed", slow))
    model = build_mlp(tmp_path / "mlp.onnx", seed=5)
    result = cli("publish", str(model), "--name", "cli-mlp", "--weights", "private", "--json")
    assert result.code == 0, result.stderr
    document = result.json()
    assert document["zk_srs"] == "dev"
    logrows = cli("show", document["cid"], "--json").json()["zk"]["logrows"]
    expected = CostProfile("fixed", slow).estimate(logrows)
    assert document["zk_estimate"].startswith(
        f"logrows {logrows}, fixed: setup ~{expected.setup_seconds:.0f} s, prove ~{expected.prove_seconds:.0f} s"
    )
    assert cost.load("fixed") == CostProfile("fixed", slow), "a current measurement is not measured again"
    assert "insecure dev SRS" in result.stderr
    shown = cli("show", document["cid"], "--json").json()
    assert shown["zk"]["mode"] == "fixed"
    assert "mlp.onnx" not in shown["files"]
