"""`zkreg log NAME --graph` and `zkreg rep graph -o`: SVG drawn by Graphviz's `dot`, written atomically; without
`dot`, one line and exit 6. And the pages' HTTP answers: escaped, and under a CSP that allows no script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import nacl.signing

from tests.pages.conftest import ServedPeer
from zkreg.api import Repo
from zkreg.identity import Identity


def publish_lineage(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("a,label\n1,0\n")
    assert cli("init").code == 0
    assert cli("publish", str(tmp_path / "rows.csv"), "-n", "rows", "--kind", "dataset").code == 0
    for content in (b"\x01", b"\x02"):
        (tmp_path / "weights.bin").write_bytes(content)
        published = cli("publish", str(tmp_path / "weights.bin"), "-n", "net", "--kind", "model", "--dataset", "rows")
        assert published.code == 0, published.stderr


def test_log_graph_draws_the_lineage_of_a_name_with_its_dataset(cli: Any, tmp_path: Path) -> None:
    publish_lineage(cli, tmp_path)
    result = cli("log", "net", "--graph", str(tmp_path / "lineage.svg"))
    assert result.code == 0, result.stderr
    svg = (tmp_path / "lineage.svg").read_text()
    assert svg.count('class="node"') == 3
    for label in ("model net@2", "model net@1", "dataset rows@1", ">parent<", ">dataset<"):
        assert label in svg


def test_rep_graph_draws_the_trust_edges_around_an_identity(cli: Any, tmp_path: Path) -> None:
    assert cli("init").code == 0
    other = Identity(nacl.signing.SigningKey.generate()).did
    with Repo.open(cli.home) as repo:
        repo.ledger.append(repo.identity, "endorse", {"peer": other, "weight": 3})
    result = cli("rep", "graph", "-o", str(tmp_path / "trust.svg"), "--json")
    assert result.code == 0, result.stderr
    svg = (tmp_path / "trust.svg").read_text()
    assert svg.count('class="node"') == 2
    assert svg.count('class="edge"') == 1
    assert other in svg


def test_a_graph_without_dot_installed_is_one_line_and_exit_6_and_writes_nothing(cli: Any, tmp_path: Path) -> None:
    publish_lineage(cli, tmp_path)
    no_dot = {"PATH": str(tmp_path / "empty-bin")}  # a real missing `dot`: nothing on PATH
    result = cli("log", "net", "--graph", str(tmp_path / "lineage.svg"), env=no_dot)
    assert result.code == 6
    assert result.stderr.strip().count("\n") <= 1, result.stderr
    assert "dot" in result.stderr
    assert not (tmp_path / "lineage.svg").exists()
    as_json = cli("rep", "graph", "-o", str(tmp_path / "trust.svg"), "--json", env=no_dot)
    assert as_json.json()["error"]["code"] == "backend/graphviz-missing"


def test_pages_answer_escaped_html_under_a_csp_that_allows_no_script(served_peer: ServedPeer) -> None:
    for path in ("/", "/m/rows@1", "/rep", f"/rep/{served_peer.did}"):
        answer = httpx.get(served_peer.url + path)
        assert answer.status_code == 200, path
        assert "script-src 'none'" in answer.headers["content-security-policy"]
        assert "<script" not in answer.text
    assert "&lt;script&gt;document.title" in httpx.get(served_peer.url + "/m/rows@1").text
