"""Attacks through foreign zk data: proof bundles, a manifest's circuit settings, inference inputs and ONNX
external data, each crafted by a hostile peer or handed to the CLI. Real processes throughout: a hostile
`zkreg serve` on 127.0.0.1, the victim's real `zkreg sync`/`rep`/`prove`/`verify` subprocesses, real SQLite,
real ezkl where a proof is needed.

Issue 9, findings 2, 5 (zk parts), 12 (zk parts) and 13.
"""

from __future__ import annotations

import json
from importlib.metadata import version as installed
from pathlib import Path
from typing import Any

import onnx
import pytest

from tests.reputation.ledger_helpers import identity
from tests.serve.conftest import StartPeer, start_peer  # noqa: F401  (the fixture, used by name)
from tests.zk.helpers import resign
from tests.zk.models import build_mlp
from zkreg.api import ExportCarRequest, Repo, export_car
from zkreg.app.publish import put_tree
from zkreg.identity import Identity
from zkreg.peer.envelope import sign_request
from zkreg.registry.index import Ref
from zkreg.registry.manifest import build_and_sign
from zkreg.registry.unixfs import KUBO_V1_LEGACY
from zkreg.reputation.ledger import CachedVerdict, now_ms
from zkreg.zk.bundle import sign_bundle

EZKL = installed("ezkl")
GOOD_SETTINGS = {
    "model_instance_shapes": [[1, 4], [1, 3]],
    "model_input_scales": [13],
    "model_output_scales": [13],
    "input_types": ["F32"],
}
FELT = "00" * 32
DEEP = 100_000


def crafted_zk_model(repo: Repo, name: str, settings: bytes) -> tuple[str, dict[str, Any]]:
    """What a hostile peer can sign: a model manifest whose zk section names `settings` (any bytes) and junk
    vk/SRS files, recorded as a published ref of its own. (manifest CID, its zk section)"""
    folder = repo.home / "crafted" / name
    folder.mkdir(parents=True)
    artefacts = {"zk/settings.json": settings, "zk/vk.key": f"vk of {name}".encode(), "zk/dev-k15.srs": b"srs"}
    imported = {}
    for file_name, data in artefacts.items():
        path = folder / file_name.replace("/", "_")
        path.write_bytes(data)
        imported[file_name] = repo.store.put_file(path, KUBO_V1_LEGACY)
    tree = put_tree(repo.store, {file_name: (f.cid, f.tsize) for file_name, f in imported.items()}, KUBO_V1_LEGACY)
    zk = {
        "backend": "ezkl",
        "version": EZKL,
        "mode": "fixed",
        "settings": imported["zk/settings.json"].cid,
        "vk": imported["zk/vk.key"].cid,
        "srs": imported["zk/dev-k15.srs"].cid,
        "srs_kind": "dev",
        "logrows": 15,
        "visibility": {"input": "public", "output": "public", "params": "fixed"},
    }
    created = "2026-12-01T00:00:00Z"
    cid, block = build_and_sign(
        repo.identity,
        kind="model",
        name=name,
        version="1",
        created=created,
        files={file_name: (f.cid, f.size) for file_name, f in imported.items()},
        tree=tree,
        parents=[],
        weights="private",
        dataset=None,
        message=None,
        zk=zk,
    )
    repo.store.put_block(cid, block)
    repo.store.flush_index()
    with repo.index.transaction() as index:
        index.add_ref(Ref(name, "1", cid, repo.identity.did, "model", created))
    return cid, zk


def signed_bundle(prover: Identity, manifest: str, zk: dict[str, Any]) -> dict[str, Any]:
    """A well-formed, validly signed bundle for `manifest` whose proof is junk."""
    return sign_bundle(
        prover,
        {
            "manifest": manifest,
            "backend": {"name": "ezkl", "version": EZKL},
            "settings": zk["settings"],
            "vk": zk["vk"],
            "srs": zk["srs"],
            "input": [[0.5, -0.25, 0.75, 0.1]],
            "output": [[1.0, 2.0, 3.0]],
            "proof": {"instances": [[FELT] * 7], "proof": [1, 2, 3]},
            "created": "2026-12-01T00:00:00Z",
        },
    )


def poisoned(bundle: dict[str, Any], attack: str) -> bytes:
    """The bundle's JSON with one field replaced by text no honest prover writes."""
    text = json.dumps(bundle)
    if attack == "output-1e999":
        return text.replace('"output": [[1.0, 2.0, 3.0]]', '"output": [[1e999, 2.0, 3.0]]').encode()
    if attack == "output-nan":
        return text.replace('"output": [[1.0, 2.0, 3.0]]', '"output": [[NaN, 2.0, 3.0]]').encode()
    if attack == "deep-json":
        return text.replace('"proof": {', '"proof": {"protocol": ' + "[" * DEEP + "]" * DEEP + ", ").encode()
    if attack == "lone-surrogate":
        return text.replace('"created": "2026-12-01T00:00:00Z"', '"created": "\\ud800"').encode()
    if attack == "huge-integer":
        return text.replace('"output": [[1.0, 2.0, 3.0]]', '"output": [[' + "9" * 4000 + ", 2.0, 3.0]]").encode()
    raise AssertionError(attack)


BUNDLE_ATTACKS = ("output-1e999", "output-nan", "deep-json", "huge-integer", "lone-surrogate")
SETTINGS_ATTACKS = {
    "settings-not-json": b"\x00\xff not json {",
    "settings-missing-keys": b"{}",
    "settings-wrong-types": json.dumps({**GOOD_SETTINGS, "model_instance_shapes": "1x4"}).encode(),
    "settings-1e999-scale": json.dumps(GOOD_SETTINGS).replace("[13]", "[1e999]", 1).encode(),
    "settings-deep-json": b'{"run_args": ' + b"[" * DEEP + b"]" * DEEP + b"}",
}


def test_one_sync_with_a_hostile_peer_serving_crafted_bundles_and_settings_does_not_brick_scoring(
    start_peer: StartPeer,  # noqa: F811
    cli: Any,
    tmp_path: Path,
) -> None:
    """Finding 2: Mallory serves bundles holding 1e999, NaN, 100k-deep JSON or a 4000-digit number, and models
    whose settings are not JSON, lack keys, have wrong types, a 1e999 scale or nest 100k deep, each with a
    `use`/`receipt` pair naming it. After one real `zkreg sync`, `rep show` and `rep top` still exit 0, and each
    proof is cached as not verifying (judged once: a second scoring does not judge it again)."""
    mallory_home = tmp_path / "mallory"
    mallory = Repo.init(mallory_home)
    sock = identity("mallory's sock puppet")
    proofs: dict[str, str] = {}
    good_model, good_zk = crafted_zk_model(mallory, "bait", json.dumps(GOOD_SETTINGS).encode())
    attacks: list[tuple[str, str, bytes]] = [
        (attack, good_model, poisoned(signed_bundle(mallory.identity, good_model, good_zk), attack))
        for attack in BUNDLE_ATTACKS
    ]
    for attack, settings in SETTINGS_ATTACKS.items():
        model, zk = crafted_zk_model(mallory, attack, settings)
        attacks.append((attack, model, json.dumps(signed_bundle(mallory.identity, model, zk)).encode()))
    for attack, model, data in attacks:
        path = tmp_path / f"{attack}.json"
        path.write_bytes(data)
        proofs[attack] = mallory.store.put_file(path, KUBO_V1_LEGACY).cid
        # Her own database: she claims to have verified what she serves.
        mallory.ledger.record_proof_verdict(proofs[attack], CachedVerdict(True, model, mallory.identity.did, None))
        nonce = sign_request(sock, "prove", model, [[0.5, -0.25, 0.75, 0.1]], now_ms()).nonce
        mallory.ledger.append(sock, "use", {"manifest": model, "provider": mallory.identity.did, "request": nonce})
        receipt = {"request": nonce, "consumer": sock.did, "proof": proofs[attack], "output_hash": "00" * 32}
        mallory.ledger.append(mallory.identity, "receipt", receipt)
    mallory.close()
    served = start_peer("mallory")

    assert cli("init").code == 0
    synced = cli("sync", served.url)
    assert synced.code == 0, synced.stderr
    for command in (("rep", "show"), ("rep", "top"), ("rep", "show", sock.did, "--json")):
        shown = cli(*command)
        assert shown.code == 0, f"{command}: {shown.stderr}"
        assert "Traceback" not in shown.stderr

    victim = Repo.open(cli.home)
    try:
        for attack, proof in proofs.items():
            assert victim.store.has(proof), attack  # fetched: the verdict is about the proof, not its absence
            verdict = victim.ledger.proof_verdict(proof)
            assert verdict is not None, f"{attack}: no verdict cached"
            assert not verdict.ok, attack
        # Judged once: a marked reason survives another scoring (a re-judgement would overwrite it).
        for proof, verdict in victim.ledger.proof_verdicts().items():
            victim.ledger.record_proof_verdict(proof, verdict._replace(reason="judged before"))
    finally:
        victim.close()
    assert cli("rep", "top").code == 0
    victim = Repo.open(cli.home)
    try:
        reasons = {verdict.reason for verdict in victim.ledger.proof_verdicts().values()}
    finally:
        victim.close()
    assert reasons == {"judged before"}


# ---- finding 5: one error line for crafted zk data given to the CLI ---------------------------------------------


@pytest.fixture
def hostile_car(tmp_path: Path) -> tuple[Path, dict[str, str], dict[str, dict[str, Any]], Identity]:
    """A CAR of Mallory's crafted models (good settings as "bait", and one per settings attack), as a victim
    would receive it; the models' CIDs, zk sections, and Mallory's identity (to sign bundles)."""
    mallory = Repo.init(tmp_path / "mallory")
    models: dict[str, str] = {}
    sections: dict[str, dict[str, Any]] = {}
    for name, settings in {"bait": json.dumps(GOOD_SETTINGS).encode(), **SETTINGS_ATTACKS}.items():
        models[name], sections[name] = crafted_zk_model(mallory, name, settings)
    cars = tmp_path / "cars"
    cars.mkdir()
    for name in models:
        export_car(mallory, ExportCarRequest(name, cars / f"{name}.car"))
    who = mallory.identity
    mallory.close()
    return cars, models, sections, who


def _one_error_line(result: Any, code: str, exit_code: int) -> None:
    assert result.code == exit_code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"error[{code}]" in lines[0], lines[0]


@pytest.mark.parametrize("attack", BUNDLE_ATTACKS)
def test_verify_of_a_bundle_with_non_finite_deep_or_huge_numbers_is_one_error_line(
    attack: str, cli: Any, tmp_path: Path, hostile_car: Any
) -> None:
    cars, models, sections, mallory = hostile_car
    assert cli("init").code == 0
    assert cli("import", str(cars / "bait.car")).code == 0
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(poisoned(signed_bundle(mallory, models["bait"], sections["bait"]), attack))
    _one_error_line(cli("verify", str(bundle)), "integrity/malformed", 4)
    _one_error_line(cli("verify", str(bundle), "--json"), "integrity/malformed", 4)


@pytest.mark.parametrize("attack", sorted(SETTINGS_ATTACKS))
def test_prove_and_verify_against_crafted_circuit_settings_are_one_error_line(
    attack: str, cli: Any, tmp_path: Path, hostile_car: Any
) -> None:
    cars, models, sections, mallory = hostile_car
    assert cli("init").code == 0
    imported = cli("import", str(cars / f"{attack}.car"))
    assert imported.code == 0, imported.stderr
    (tmp_path / "input.json").write_text(json.dumps([0.5, -0.25, 0.75, 0.1]))
    _one_error_line(cli("prove", attack, "--input", "input.json"), "integrity/zk-settings", 4)
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(signed_bundle(mallory, models[attack], sections[attack])))
    _one_error_line(cli("verify", str(bundle)), "integrity/zk-settings", 4)


@pytest.mark.parametrize(
    "text",
    [
        "[" * DEEP + "]" * DEEP,
        '{"input_data": ' + "[" * 70 + "]" * 70 + "}",
        "[1e999, 0, 0, 0]",
        "[NaN, 0, 0, 0]",
        "[-Infinity, 0, 0, 0]",
        "[" + "9" * 5000 + ", 0, 0, 0]",
    ],
    ids=["100k-deep", "70-deep", "1e999", "nan", "-infinity", "5000-digits"],
)
def test_prove_with_a_deep_or_non_finite_input_is_one_input_error_line(
    text: str, cli: Any, tmp_path: Path, hostile_car: Any
) -> None:
    cars, _, _, _ = hostile_car
    assert cli("init").code == 0
    assert cli("import", str(cars / "bait.car")).code == 0
    (tmp_path / "input.json").write_text(text)
    result = cli("prove", "bait", "--input", "input.json")
    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "error[input/" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _external_data_model(folder: Path) -> tuple[Path, Path]:
    """The tiny MLP saved with every tensor in `mlp.onnx.data` (onnx's external data): (model, data file)."""
    folder.mkdir(parents=True, exist_ok=True)
    build_mlp(folder / "plain.onnx", seed=5)
    model = onnx.load(str(folder / "plain.onnx"))
    (folder / "plain.onnx").unlink()
    onnx.save_model(
        model,
        str(folder / "mlp.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="mlp.onnx.data",
        size_threshold=0,
    )
    return folder / "mlp.onnx", folder / "mlp.onnx.data"


def test_private_publish_of_an_onnx_whose_external_data_length_passes_the_files_end_is_one_error_line(
    cli: Any, tmp_path: Path
) -> None:
    model, _ = _external_data_model(tmp_path / "model")
    graph = onnx.load(str(model), load_external_data=False)
    for entry in graph.graph.initializer[-1].external_data:
        if entry.key == "length":
            entry.value = "99999"
    onnx.save(graph, str(model))
    assert cli("init").code == 0
    result = cli("publish", str(tmp_path / "model"), "--name", "bad", "--weights", "private")
    _one_error_line(result, "input/onnx-external-data", 1)
    assert cli("ls", "--json").json() == []


# ---- finding 12: the bundle size cap, and `verify NAME` ----------------------------------------------------------


def test_a_bundle_larger_than_the_cap_is_refused_before_parsing(cli: Any, tmp_path: Path) -> None:
    """A 57 MB bundle took 105 s to reject (parsed, then schema-checked item by item). A bundle past 1 MiB is
    now refused on its size alone: the message says so, whatever the content."""
    bundle = tmp_path / "big.json"
    bundle.write_text('{"proof": {"proof": [' + "1," * (1 << 20) + "1]}}")
    assert cli("init").code == 0
    result = cli("verify", str(bundle))
    _one_error_line(result, "integrity/malformed", 4)
    assert "larger than 1048576 bytes" in result.stderr


def test_verify_name_checks_the_ref_even_with_a_same_named_file_in_the_current_folder(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    assert cli("init").code == 0
    assert cli("publish", str(tmp_path / "data.csv"), "--name", "flowers").code == 0
    (tmp_path / "flowers").write_text("a file that happens to share the name\n")
    result = cli("verify", "flowers", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("ok flowers@1")
    as_file = cli("verify", "./flowers", cwd=tmp_path)  # a path that is no ref: read as a proof bundle
    _one_error_line(as_file, "integrity/malformed", 4)


# ---- finding 13: private weights held in external-data files ----------------------------------------------------


@pytest.mark.slow
def test_private_weights_in_an_external_data_file_are_never_published_and_the_model_proves(
    cli: Any, tmp_path: Path
) -> None:
    """The weights live in `mlp.onnx.data`, not `mlp.onnx`. A private publish must publish neither file (no block
    of the store holds any byte range of the data), and set up and prove the model from both."""
    _, data = _external_data_model(tmp_path / "model")
    weights = data.read_bytes()
    assert cli("init").code == 0
    published = cli("publish", str(tmp_path / "model"), "--name", "ext", "--weights", "private", "--json")
    assert published.code == 0, published.stderr
    shown = cli("show", "ext", "--json")
    assert shown.code == 0, shown.stderr
    files = set(shown.json()["files"])
    assert not any(name.endswith((".onnx", ".data")) for name in files), files
    repo = Repo.open(cli.home)
    try:
        blocks = [path for path in repo.store.root.rglob("*") if path.is_file()]
    finally:
        repo.close()
    tensor = weights[:32]  # the first weights, 8 float32 values: no published block may hold them
    assert blocks
    assert not any(tensor in path.read_bytes() for path in blocks)

    (tmp_path / "input.json").write_text(json.dumps([0.5, -0.25, 0.75, 0.1]))
    proved = cli("prove", "ext", "--input", "input.json", "--output", "proof.json")
    assert proved.code == 0, proved.stderr
    verified = cli("verify", "proof.json", "--json")
    assert verified.code == 0, verified.stderr
    assert verified.json()["ok"] is True

    # The prover re-signs its valid proof with an input ezkl cannot quantise (it raised OSError before).
    bundle = json.loads((tmp_path / "proof.json").read_text())
    bundle["input"] = [[1e300, 0.0, 0.0, 0.0]]
    repo = Repo.open(cli.home)
    try:
        (tmp_path / "forged.json").write_text(json.dumps(resign(bundle, repo.identity)))
    finally:
        repo.close()
    _one_error_line(cli("verify", "forged.json"), "proof/input-mismatch", 4)
