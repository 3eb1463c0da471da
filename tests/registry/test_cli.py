"""The CLI as users and CI scripts run it (a real subprocess, real exit codes), and the bad inputs it must survive."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests import vectors
from zkreg.registry.cid import check_block

EXAMPLES = Path(__file__).parents[2] / "examples"
MODEL = EXAMPLES / "tiny-mlp.onnx"

Cli = Any


def init(cli: Cli) -> str:
    result = cli("init", "--json")
    assert result.code == 0, result.stderr
    return str(result.json()["did"])


def publish(cli: Cli, *args: str) -> dict[str, Any]:
    result = cli("publish", *args, "--json")
    assert result.code == 0, result.stderr
    document: dict[str, Any] = result.json()
    return document


def block_files(home: Path) -> list[Path]:
    return [p for p in (home / "blocks").glob("*/*") if p.parent.name != ".tmp"]


def assert_error(result: Any, exit_code: int, code: str) -> dict[str, Any]:
    assert result.code == exit_code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    error: dict[str, Any] = result.json()["error"]
    assert error["code"] == code
    return error


def test_init_and_id_show_the_did_key(cli: Cli) -> None:
    did = init(cli)
    assert did.startswith("did:key:z6Mk")
    shown = cli("id", "--json")
    assert shown.code == 0
    assert shown.json()["did"] == did


def test_publish_pull_round_trip_is_byte_identical(cli: Cli, tmp_path: Path) -> None:
    init(cli)
    data = tmp_path / "data"
    (data / "nested").mkdir(parents=True)
    (data / "nested" / "big.bin").write_bytes(vectors.content(600_000, seed=1))
    (data / "labels.csv").write_text("a,b\n")
    dataset = publish(cli, str(data), "--name", "flowers")
    model = publish(cli, str(MODEL), "--name", "mlp", "--dataset", "flowers", "-m", "first")
    plain = cli("publish", str(MODEL), "--name", "mlp", "--dataset", "flowers")
    assert plain.stdout.strip().splitlines()[-1] == model["cid"], "publish prints the manifest CID last"

    pulled = cli("pull", "mlp@1", "-o", str(tmp_path / "out-model"), "--json")
    assert pulled.code == 0, pulled.stderr
    assert (tmp_path / "out-model" / "tiny-mlp.onnx").read_bytes() == MODEL.read_bytes()
    assert cli("pull", dataset["cid"], "-o", str(tmp_path / "out-ds")).code == 0
    assert (tmp_path / "out-ds/data/nested/big.bin").read_bytes() == (data / "nested/big.bin").read_bytes()
    shown = cli("show", "mlp", "--json").json()
    assert shown["dataset"] == dataset["cid"]
    assert shown["kind"] == "model"
    assert shown["files"]["tiny-mlp.onnx"]["size"] == MODEL.stat().st_size
    assert cli("verify", "mlp", "--json").json()["ok"] is True


def test_identical_content_is_a_no_op_and_changes_make_history(cli: Cli, tmp_path: Path) -> None:
    init(cli)
    file = tmp_path / "weights.bin"
    file.write_bytes(b"v1")
    first = publish(cli, str(file), "--name", "w", "-m", "one")
    again = publish(cli, str(file), "--name", "w")
    assert (again["cid"], again["created"], again["version"]) == (first["cid"], False, "1")
    file.write_bytes(b"v2")
    second = publish(cli, str(file), "--name", "w", "-m", "two")
    assert second["version"] == "2"
    history = cli("log", "w", "--json").json()
    assert [entry["cid"] for entry in history] == [second["cid"], first["cid"]]
    assert history[0]["parents"] == [first["cid"]]
    listing = cli("ls", "--json").json()
    assert [(entry["name"], entry["version"]) for entry in listing] == [("w", "1"), ("w", "2")]


def test_unknown_ref_exits_3(cli: Cli) -> None:
    init(cli)
    assert_error(cli("pull", "nothing@1", "--json"), 3, "not-found/ref")


def test_missing_identity_exits_3_with_a_hint(cli: Cli) -> None:
    result = cli("id")
    assert result.code == 3
    assert "zkreg init" in result.stderr


def test_usage_error_exits_2(cli: Cli) -> None:
    result = cli("publish")
    assert result.code == 2
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("damage", ["flip-a-byte", "truncate"])
def test_tampered_block_fails_pull_and_verify_and_leaves_no_file(cli: Cli, tmp_path: Path, damage: str) -> None:
    init(cli)
    data = tmp_path / "model.bin"
    data.write_bytes(vectors.content(2_500_000, seed=2))
    publish(cli, str(data), "--name", "m", "--kind", "model")
    leaf = next(p for p in block_files(cli.home) if p.name.startswith("bafkrei") and p.stat().st_size == 1024 * 1024)
    raw = bytearray(leaf.read_bytes())
    if damage == "flip-a-byte":
        raw[1000] ^= 0x01
        leaf.write_bytes(bytes(raw))
    else:
        leaf.write_bytes(bytes(raw[:1000]))

    out = tmp_path / "out"
    error = assert_error(cli("pull", "m", "-o", str(out), "--json"), 4, "integrity/cid-mismatch")
    assert leaf.name in error["message"]
    assert not out.exists() or not any(out.rglob("*")), "a failed pull must leave no (partial) file"
    assert_error(cli("verify", "m", "--json"), 4, "integrity/cid-mismatch")


def test_manifest_signed_by_another_key_exits_4(cli: Cli, tmp_path: Path) -> None:
    import dag_cbor
    import nacl.signing

    from zkreg.api import Repo
    from zkreg.identity import Identity
    from zkreg.registry.cid import DAG_CBOR, compute

    init(cli)
    file = tmp_path / "f.bin"
    file.write_bytes(b"payload")
    cid = publish(cli, str(file), "--name", "f")["cid"]
    repo = Repo.open(cli.home)
    body = dict(dag_cbor.decode(repo.store.get_block(cid)))
    body.pop("sig")
    body["message"] = "rewritten by mallory"
    mallory = Identity(nacl.signing.SigningKey.generate())
    forged = dag_cbor.encode({**body, "sig": mallory.sign(dag_cbor.encode(body))})
    forged_cid = compute(DAG_CBOR, forged)
    repo.store.put_block(forged_cid, forged)
    repo.close()
    error = assert_error(cli("verify", forged_cid, "--json"), 4, "integrity/bad-signature")
    assert "signature" in error["message"]
    assert_error(cli("pull", forged_cid, "-o", str(tmp_path / "out"), "--json"), 4, "integrity/bad-signature")
    assert not (tmp_path / "out" / "f.bin").exists()


def test_symlink_in_published_directory_is_refused(cli: Cli, tmp_path: Path) -> None:
    init(cli)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not share")
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "ok.csv").write_text("1\n")
    (folder / "link.txt").symlink_to(secret)
    assert_error(cli("publish", str(folder), "--name", "ds", "--json"), 1, "input/symlink")
    assert cli("ls", "--json").json() == []
    assert not any(p.stat().st_size == len("do not share") for p in block_files(cli.home))


def test_malformed_onnx_is_refused_at_publish(cli: Cli, tmp_path: Path) -> None:
    init(cli)
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(MODEL.read_bytes()[:200])
    error = assert_error(cli("publish", str(bad), "--name", "broken", "--json"), 1, "input/onnx-invalid")
    assert "broken.onnx" in error["message"]
    assert cli("ls", "--json").json() == []


def test_onnx_external_data_outside_the_model_folder_is_refused(cli: Cli, tmp_path: Path) -> None:
    import onnx

    init(cli)
    model = onnx.load(str(MODEL))
    tensor = model.graph.initializer[0]
    (tmp_path / "outside.bin").write_bytes(tensor.raw_data or b"\0" * 256)
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../outside.bin"
    folder = tmp_path / "model"
    folder.mkdir()
    onnx.save(model, str(folder / "model.onnx"))
    error = assert_error(cli("publish", str(folder), "--name", "m", "--json"), 1, "input/onnx-external-data")
    assert "outside" in error["message"]


def test_two_publishers_at_once_both_land_consistently(cli: Cli, tmp_path: Path) -> None:
    init(cli)
    env = {**os.environ, "ZKREG_HOME": str(cli.home)}
    files = []
    for i in range(2):
        path = tmp_path / f"w{i}.bin"
        path.write_bytes(vectors.content(2_000_000, seed=10 + i))
        files.append(path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "zkreg", "publish", str(path), "--name", "shared", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in files
    ]
    outcomes = [(*proc.communicate(timeout=120), proc.returncode) for proc in procs]
    landed = [out for out, err, code in outcomes if code == 0]
    for _, err, code in outcomes:
        assert code == 0 or "store/busy" in err, err
    listing = cli("ls", "--json").json()
    assert len(listing) == len(landed) >= 1
    assert sorted(entry["version"] for entry in listing) == [str(v + 1) for v in range(len(landed))]
    for entry in listing:
        assert cli("verify", entry["cid"]).code == 0


def test_kill_9_during_publish_leaves_a_consistent_store(cli: Cli, tmp_path: Path) -> None:
    init(cli)
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        for seed in range(12):
            out.write(vectors.content(16 * 1024 * 1024, seed=seed))
    env = {**os.environ, "ZKREG_HOME": str(cli.home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zkreg", "publish", str(big), "--name", "big"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(block_files(cli.home)) < 100 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "publish finished before it could be killed; make the file bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    for block in block_files(cli.home):
        check_block(block.name, block.read_bytes())  # nothing half-written under a final name
    assert cli("ls", "--json").json() == []
    again = publish(cli, str(big), "--name", "big")
    assert cli("verify", again["cid"]).code == 0
    assert not list((cli.home / "blocks" / ".tmp").iterdir()), "the dead writer's temporaries are cleaned up"


def test_piped_output_has_no_progress_noise(cli: Cli, tmp_path: Path) -> None:
    init(cli)
    file = tmp_path / "f.bin"
    file.write_bytes(vectors.content(3_000_000, seed=4))
    result = cli("publish", str(file), "--name", "f")
    assert result.code == 0
    assert result.stderr == ""
    assert "\x1b[" not in result.stdout


def test_block_files_are_named_by_their_content(cli: Cli, tmp_path: Path) -> None:
    init(cli)
    file = tmp_path / "f.bin"
    file.write_bytes(b"hello")
    publish(cli, str(file), "--name", "f")
    names = {p.name for p in block_files(cli.home)}
    from zkreg.registry.cid import RAW, compute

    assert compute(RAW, b"hello") in names
    assert hashlib.sha256(b"hello").digest()  # the CID above embeds exactly this digest


def test_debug_flag_shows_the_traceback_and_nothing_else_does(cli: Cli) -> None:
    init(cli)
    quiet = cli("pull", "missing@1")
    assert quiet.code == 3
    assert "Traceback" not in quiet.stderr
    loud = cli("--debug", "pull", "missing@1")
    assert "Traceback" in loud.stderr
    assert "NotFound" in loud.stderr


def test_passphrase_protected_identity_needs_the_passphrase(cli: Cli, tmp_path: Path) -> None:
    secret = {"ZKREG_PASSPHRASE": "correct horse battery staple"}
    did = cli("init", "--json", env=secret).json()["did"]
    assert cli("id", "--json", env=secret).json()["did"] == did
    file = tmp_path / "f.bin"
    file.write_bytes(b"x")
    assert_error(cli("publish", str(file), "--name", "f", "--json"), 1, "identity/passphrase-required")
    assert_error(
        cli("publish", str(file), "--name", "f", "--json", env={"ZKREG_PASSPHRASE": "nope"}),
        1,
        "identity/bad-passphrase",
    )
    assert cli("publish", str(file), "--name", "f", env=secret).code == 0


IPIP_HELLO_WORLD_V0 = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"  # IPIP-499's fixture for "hello world"


def test_cid_command_prints_the_cids_publish_stores_and_refuses_an_unknown_profile(cli: Cli, tmp_path: Path) -> None:
    init(cli)
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "a.csv").write_text("x,y\n1,2\n")
    (folder / "hello.txt").write_text("hello world")
    result = cli("cid", "--cid-profile", "unixfs-v0-2015", "--json", str(folder / "hello.txt"), str(folder))
    assert result.code == 0, result.stderr
    document = result.json()
    assert document["profile"] == "unixfs-v0-2015"
    hello, whole = document["entries"]
    assert (hello["cid"], hello["type"], hello["size"]) == (
        "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD",
        "file",
        11,
    )
    assert whole["type"] == "directory"
    assert whole["cid"].startswith("Qm")
    plain = cli("cid", str(folder / "a.csv"))
    assert plain.code == 0, plain.stderr
    cid, path = plain.stdout.split()
    publish(cli, str(folder / "a.csv"), "--name", "a")
    assert cli("show", "a", "--json").json()["files"]["a.csv"]["cid"] == cid
    assert path == str(folder / "a.csv")
    error = assert_error(cli("cid", "--cid-profile", "nope", "--json", str(folder)), 1, "input/bad-cid-profile")
    assert "unixfs-v1-2025" in error["message"]
