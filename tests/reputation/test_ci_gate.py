"""The one-command CI gate: `ci/zkreg-gate.sh` (what the composite action `action.yml` runs) end to end, in a
fresh data dir, against the artefact CAR and feed files a publisher and two attesters handed over."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import Swarm

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "ci" / "zkreg-gate.sh"


def _gate(swarm: Swarm, policy: str, **extra: str) -> subprocess.CompletedProcess[str]:
    policy_file = swarm.folder / "gate-policy.toml"
    policy_file.write_text(policy)
    car = swarm.folder / "model.car"
    subprocess.run(
        [sys.executable, "-m", "zkreg", "export", swarm.model, "-o", str(car)],
        env={**os.environ, "ZKREG_HOME": str(swarm.publisher.home)},
        check=True,
        capture_output=True,
    )
    feeds = " ".join(str(swarm.feed_file(repo)) for repo in (swarm.publisher, swarm.alice, swarm.bob))
    env = {
        **os.environ,
        # The suite's own zkreg is first on PATH, so the script's install step finds it and installs nothing.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "ZKREG_HOME": str(swarm.folder / "ci-home"),
        "ZKREG_GATE_REF": swarm.model,
        "ZKREG_GATE_POLICY": str(policy_file),
        "ZKREG_GATE_CAR": str(car),
        "ZKREG_GATE_FEEDS": feeds,
        "ZKREG_GATE_TRUST": f"{swarm.alice.identity.did} {swarm.bob.identity.did}",
        "ZKREG_GATE_VSA": str(swarm.folder / "vsa.json"),
        **extra,
    }
    env.pop("ZKREG_DEBUG", None)
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_the_gate_script_passes_a_model_two_trusted_verifiers_agree_on_and_writes_a_summary(swarm: Swarm) -> None:
    swarm.attest(swarm.alice)
    swarm.attest(swarm.bob)
    policy = (
        f'authors = ["{swarm.publisher.identity.did}"]\nrequire_dataset = true\nmin_consensus = 0.66\n'
        'min_attesters = 2\nsrs = "ceremony"\n'
    )
    run = _gate(swarm, policy, ZKREG_GATE_ATTEST="true")
    assert run.returncode == 0, run.stderr
    assert "pass  min_attesters: trusted attesters agreeing ok 2 >= 2" in run.stdout
    vsa = swarm.folder / "vsa.json"
    check = subprocess.run(
        [sys.executable, "-m", "zkreg", "verify", str(vsa)],
        env={**os.environ, "ZKREG_HOME": str(swarm.folder / "ci-home")},
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    assert ": PASSED at " in check.stdout


@pytest.mark.slow
def test_the_gate_script_exits_5_when_a_rule_is_not_met_and_still_leaves_the_summary(swarm: Swarm) -> None:
    swarm.attest(swarm.alice)  # only one verifier attested
    run = _gate(swarm, "min_attesters = 2\n[metrics]\naccuracy = { min = 0.9 }\n")
    assert run.returncode == 5, run.stderr
    assert "FAIL  min_attesters: trusted attesters agreeing ok 1 < 2" in run.stdout
    assert "FAIL  metrics.accuracy: no proven metric accuracy" in run.stdout
    assert (swarm.folder / "vsa.json").is_file()


def test_the_action_runs_the_gate_script_with_every_setting_it_reads() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "pip install" in runs
    assert "ci/zkreg-gate.sh" in runs
    assert any(step.get("uses", "").startswith("actions/upload-artifact@") for step in steps)
    passed = {name for step in steps for name in step.get("env", {})}
    read = set(re.findall(r"\$\{?(ZKREG_GATE_[A-Z]+)", SCRIPT.read_text()))
    assert read <= passed
