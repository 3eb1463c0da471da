"""The ledger through the workflows (publish, pull, verify --attest) and through the real CLI's exit codes."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from zkreg.api import PublishRequest, PullRequest, Repo, VerifyRequest, publish, pull, verify
from zkreg.errors import IntegrityError
from zkreg.identity import KEY_FILE, create_identity

from .ledger_helpers import blocks, feed, identity, manifest_cid


def _peer_of(repo: Repo, home: Path) -> Repo:
    """A second identity holding a copy of `repo`'s blocks, refs and feeds (as if it had synced them)."""
    shutil.copytree(repo.home, home)
    (home / KEY_FILE).unlink()
    create_identity(home, None)
    return Repo.open(home)


def test_workflows_append_publish_use_and_attest_entries(repo: Repo, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("x,y\n1,2\n")
    published = publish(repo, PublishRequest([tmp_path / "data.csv"], name="table"))
    [entry] = repo.ledger.entries(repo.identity.did)
    assert (entry.type, entry.body) == ("publish", {"manifest": published.cid})

    pull(repo, PullRequest("table", tmp_path / "own"))  # one's own artefact: no `use`
    assert repo.ledger.state(repo.identity.did).seq == 1

    consumer = _peer_of(repo, tmp_path / "consumer")
    pull(consumer, PullRequest("table", tmp_path / "theirs"))
    verify(consumer, VerifyRequest("table", attest=True))
    use, attest = consumer.ledger.entries(consumer.identity.did)
    assert use.type == "use"
    assert use.body["manifest"] == published.cid
    assert use.body["provider"] == repo.identity.did
    assert (attest.type, attest.body["subject"], attest.body["verdict"]) == ("attest", published.cid, "ok")

    # A failed verification is attested too, with the reason, and still fails.
    file_cid = consumer.manifest(published.cid).files["data.csv"]
    [block_path] = (consumer.home / "blocks").rglob(file_cid)
    block_path.write_bytes(b"x,y\n1,3\n")
    with pytest.raises(IntegrityError):
        verify(consumer, VerifyRequest("table", attest=True))
    failed = list(consumer.ledger.entries(consumer.identity.did))[-1]
    assert (failed.type, failed.body["verdict"]) == ("attest", "fail")
    assert consumer.ledger.verify_all() == 1 + 3  # the publisher's feed came along with the copy
    consumer.close()


def test_cli_ledger_verify_exits_4_naming_the_tampered_entry(cli: Any, tmp_path: Path) -> None:
    assert cli("init").code == 0
    (tmp_path / "a.txt").write_text("a")
    assert cli("publish", str(tmp_path / "a.txt"), "--name", "a", "--kind", "dataset").code == 0
    assert cli("verify", "a", "--attest").code == 0
    assert cli("ledger", "verify").code == 0
    log = cli("ledger", "log", "--json").json()
    assert [entry["type"] for entry in log] == ["publish", "attest"]

    db = sqlite3.connect(cli.home / "ledger.db")
    block = bytearray(db.execute("SELECT block FROM entries WHERE seq = 2").fetchone()[0])
    block[-3] ^= 0x01
    db.execute("UPDATE entries SET block = ? WHERE seq = 2", (bytes(block),))
    db.commit()
    db.close()
    result = cli("ledger", "verify", "--json")
    assert result.code == 4
    error = result.json()["error"]
    assert (error["author"], error["seq"]) == (log[0]["author"], 2)
    assert "Traceback" not in result.stderr


def test_cli_import_of_a_forged_feed_exits_4_and_names_author_and_seq(cli: Any, tmp_path: Path) -> None:
    alice, mallory = identity("cli-alice"), identity("cli-mallory")
    good = feed(alice, [("publish", {"manifest": manifest_cid(f"a{n}")}) for n in range(3)])
    forged = feed(mallory, [("publish", {"manifest": manifest_cid("evil")})], after=good[-1])
    assert cli("init").code == 0
    source = tmp_path / "source"
    source.mkdir()
    from zkreg.reputation.ledger import Ledger
    from zkreg.reputation.sync import export_car

    ledger = Ledger(source / "ledger.db")
    ledger.import_blocks(blocks(good))
    ledger.conn.execute(
        "INSERT INTO entries (cid, author, seq, prev, ts, type, block) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (forged[0].cid, alice.did, 4, good[-1].cid, forged[0].ts, "publish", forged[0].block),
    )  # a hostile peer serves an entry that claims to extend Alice's feed
    export_car(ledger, tmp_path / "feeds.car")
    ledger.close()

    result = cli("ledger", "import", str(tmp_path / "feeds.car"), "--json")
    assert result.code == 4
    error = result.json()["error"]
    assert (error["author"], error["seq"], error["code"]) == (alice.did, 4, "feed/bad-signature")
    assert error["report"]["accepted"] == 3
    replay = cli("ledger", "import", str(tmp_path / "feeds.car"), "--json")
    assert replay.json()["error"]["report"]["duplicates"] == 3


def test_cli_rep_show_peer_trust_and_sync_by_file(cli: Any, tmp_path: Path) -> None:
    other = tmp_path / "other-home"
    assert cli("init", home_dir=other).code == 0
    other_did = cli("id", "--json", home_dir=other).json()["did"]
    (tmp_path / "m.txt").write_text("m")
    assert cli("publish", str(tmp_path / "m.txt"), "--name", "m", "--kind", "dataset", home_dir=other).code == 0
    assert cli("ledger", "export", "-o", str(tmp_path / "other.car"), "--json", home_dir=other).json()["entries"] == 1

    assert cli("init").code == 0
    me = cli("id", "--json").json()["did"]
    imported = cli("ledger", "import", str(tmp_path / "other.car"), "--json").json()
    assert imported["accepted"] == 1
    assert cli("peer", "trust", other_did, "--json").json() == {"did": other_did, "added": True}
    shown = cli("rep", "show", other_did, "--json").json()
    assert set(shown) >= {"identity", "trust", "credit", "debit", "balance", "forked"}
    assert shown["identity"] == other_did
    assert shown["forked"] is False
    assert shown["trust"] > 0
    mine = cli("rep", "show", "--json").json()
    assert mine["identity"] == me
    top = cli("rep", "top", "--json").json()
    assert {entry["identity"] for entry in top} == {me, other_did}
    bad = cli("rep", "show", "not-a-did", "--json")
    assert bad.code == 1
    assert bad.json()["error"]["code"] == "input/bad-did"
    missing = cli("ledger", "import", str(tmp_path / "missing.car"))
    assert missing.code == 3
    theirs = cli("ledger", "log", "--author", other_did, "--json").json()
    assert [(entry["author"], entry["seq"], entry["type"]) for entry in theirs] == [(other_did, 1, "publish")]
    assert cli("ledger", "export", "--author", me, "-o", str(tmp_path / "mine.car")).code == 3  # no feed yet
