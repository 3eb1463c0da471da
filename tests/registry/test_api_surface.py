"""The public surface: `zkreg.api` exports the application layer, `Repo` closes its stores as a context manager,
and request objects are frozen (a workflow cannot change what its caller asked for)."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from zkreg import api
from zkreg.api import PublishRequest, PullRequest, Repo, VerifyRequest, publish, pull, verify


def test_every_exported_name_exists_and_every_request_is_frozen() -> None:
    assert sorted(api.__all__) == sorted(set(api.__all__))
    requests = [getattr(api, name) for name in api.__all__ if name.endswith("Request")]
    # every Request the README's Python API table names is exported (a count would only pin the number)
    assert {"PublishRequest", "PullRequest", "VerifyRequest", "ProveRequest", "SyncRequest"} <= {
        request_type.__name__ for request_type in requests
    }
    for request_type in requests:
        assert dataclasses.is_dataclass(request_type)
        assert request_type.__dataclass_params__.frozen, request_type  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        PullRequest("x").force = True  # type: ignore[misc]


def test_repo_as_context_manager_runs_the_workflows_and_closes_index_and_ledger(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("a,b\n1,2\n")
    with Repo.init(tmp_path / "home") as repo:
        result = publish(repo, PublishRequest(paths=[tmp_path / "rows.csv"], name="rows"))
        pulled = pull(repo, PullRequest("rows@1", tmp_path / "out"))
        assert pulled.files[0].cid == repo.show("rows").files["rows.csv"]
        assert verify(repo, VerifyRequest(result.cid)).bytes == 8
        ledger = repo.ledger
    assert (tmp_path / "out" / "rows.csv").read_text() == "a,b\n1,2\n"
    with pytest.raises(sqlite3.ProgrammingError):
        repo.index.integrity_check()
    with pytest.raises(sqlite3.ProgrammingError):
        ledger.authors()


def test_every_exported_name_resolves_and_the_peer_workflows_load_only_when_used() -> None:
    """`zkreg.api` names the workflows with a peer too, but importing it must not bring the HTTP stack."""
    code = (
        "import sys, zkreg.api as api\n"
        "assert 'httpx' not in sys.modules, 'zkreg.api imported httpx'\n"
        "missing = [name for name in api.__all__ if getattr(api, name, None) is None]\n"
        "assert not missing, missing\n"
        "assert 'httpx' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
