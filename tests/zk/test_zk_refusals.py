"""Bad models, bad inputs and bad resources are refused clearly, before any long step, and leave nothing behind:
unsupported ops, inputs of the wrong shape / non-numeric / oversized, a setup that would not fit in memory, and a
prover process killed mid-way."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.zk.helpers import ZkSession
from tests.zk.models import build_conv, build_mlp, build_symbolic_batch, build_with_mod
from zkreg.api import ProveRequest, PublishRequest, Repo, prove, publish
from zkreg.errors import InvalidInput, ZkFailed, ZkregError
from zkreg.zk.inputs import MAX_INPUT_BYTES


@pytest.mark.parametrize(
    ("builder", "named"),
    [
        (build_with_mod, "op Mod"),
        (lambda path: build_conv(path, explicit_attributes=False), "Conv needs explicit strides, pads, dilations"),
        (build_symbolic_batch, "symbolic dimension"),
    ],
)
def test_unsupported_model_is_refused_at_publish_naming_the_problem(
    repo: Any, tmp_path: Path, builder: Any, named: str
) -> None:
    model = builder(tmp_path / "model.onnx")
    with pytest.raises(InvalidInput, match=named) as caught:
        publish(repo, PublishRequest([model], name="bad", weights="private"))
    assert caught.value.code == "input/zk-unsupported-model"
    assert repo.ls() == []


def test_private_weights_on_a_dataset_are_refused(repo: Any, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInput, match="apply to models"):
        publish(repo, PublishRequest([data], name="d", weights="private"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("content", "code"),
    [
        (json.dumps([0.1, 0.2]), "input/bad-shape"),
        (json.dumps({"input_data": [[0.1, 0.2, 0.3, 0.4], [1.0]]}), "input/bad-shape"),
        (json.dumps([0.1, "0.2", 0.3, 0.4]), "input/not-numeric"),
        (json.dumps([0.1, True, 0.3, 0.4]), "input/not-numeric"),
        ("[0.1, NaN, 0.3, 0.4]", "input/not-numeric"),
        ("{not json", "input/not-json"),
        ("[" + "0.1," * (MAX_INPUT_BYTES // 4) + "0.1]", "input/too-large"),
    ],
)
def test_bad_prove_input_is_refused_before_proving(zk_session: ZkSession, content: str, code: str) -> None:
    bad = zk_session.folder / "bad-input.json"
    bad.write_text(content)
    out = zk_session.folder / "never.json"
    with pytest.raises(InvalidInput) as caught:
        prove(zk_session.repo, ProveRequest("mlp-fixed", bad, out))
    assert caught.value.code == code
    assert not out.exists()


@pytest.mark.slow
def test_cli_bad_input_is_one_clear_line_not_a_traceback(zk_session: ZkSession, cli: Any) -> None:
    bad = zk_session.folder / "cli-bad-input.json"
    bad.write_text(json.dumps(["x"]))
    result = cli("prove", "mlp-fixed", "--input", str(bad), "--json", home_dir=zk_session.home)
    assert result.code == 1
    assert result.json()["error"]["code"] == "input/bad-shape"
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_setup_that_would_not_fit_in_memory_is_refused_before_it_starts(
    zk_session: ZkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = zk_session.repo
    cache_root = repo.zk_workspace().cache.root
    entries_before = sorted(cache_root.glob("*/*"))
    refs_before = repo.ls()
    monkeypatch.setenv("ZKREG_ZK_MEMORY_GB", "0.05")
    started = time.perf_counter()
    with pytest.raises(ZkFailed, match=r"would need ~0\.\d GB") as caught:
        publish(repo, PublishRequest([build_mlp(tmp_path / "big.onnx", seed=4)], name="too-big", weights="private"))
    assert caught.value.code == "zk/too-large"
    assert time.perf_counter() - started < 30, "refused after calibration, not after a setup"
    assert sorted(cache_root.glob("*/*")) == entries_before
    assert list((cache_root / ".staging").iterdir()) == []
    assert repo.ls() == refs_before


def _children_running(module: str) -> list[int]:
    """Direct children of this test process whose command line runs `module`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and module.encode() in cmdline:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.slow
def test_killed_prover_process_is_a_clear_error_and_leaves_nothing_in_the_cache(zk_session: ZkSession) -> None:
    """The child is killed for real (SIGKILL, as the kernel's OOM killer would): no mock."""
    repo = zk_session.repo
    manifest = repo.show("conv")
    assert manifest.zk is not None
    workspace = repo.zk_workspace()
    entry = workspace.cache.get(manifest.files["conv.onnx"], manifest.zk["settings"])
    if entry is not None:
        workspace.cache.remove(entry)  # force a cold prove: compile and setup run in the child
    out = zk_session.folder / "killed.json"
    errors: list[BaseException] = []

    def prove_in_thread() -> None:
        own = Repo.open(zk_session.home)  # SQLite connections stay in the thread that made them
        try:
            prove(own, ProveRequest("conv", zk_session.folder / "conv-input.json", out))
        except ZkregError as exc:
            errors.append(exc)
        finally:
            own.close()

    worker = threading.Thread(target=prove_in_thread)
    worker.start()
    deadline = time.monotonic() + 60
    killed = False
    while not killed and time.monotonic() < deadline and worker.is_alive():
        for pid in _children_running("zkreg.zk.ezkl_child"):
            os.kill(pid, signal.SIGKILL)
            killed = True
        time.sleep(0.05)
    worker.join(120)
    assert killed, "the prover child was never seen"
    assert len(errors) == 1
    assert isinstance(errors[0], ZkFailed)
    assert errors[0].code == "zk/child-killed"
    assert "SIGKILL" in errors[0].message
    assert workspace.cache.get(manifest.files["conv.onnx"], manifest.zk["settings"]) is None
    assert list((workspace.cache.root / ".staging").iterdir()) == []
    assert not out.exists()
