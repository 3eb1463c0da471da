"""Attacks on one peer's own data dir and terminal, through the real CLI in a subprocess (issue 9, findings 1, 4, 5,
8, 9, 10, 11 and 12): interrupting a command, damaged or unopenable local files, hostile CARs and manifests written
to the output folder, and hostile strings printed to the terminal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests import vectors
from tests.serve.conftest import StartPeer, start_peer  # noqa: F401  (the fixture that runs a real peer)
from tests.serve.test_requests import publish_dataset
from zkreg.api import PublishRequest, Repo, publish
from zkreg.app.publish import put_tree
from zkreg.registry.car import walk_dag, write_car
from zkreg.registry.cid import DAG_PB, RAW, cid_from_str, compute
from zkreg.registry.index import Ref
from zkreg.registry.manifest import build_and_sign
from zkreg.registry.unixfs import KUBO_V1_LEGACY, Link, _file_data, directory_node, encode_node

CHUNK_SIZE = KUBO_V1_LEGACY.chunk_size
MAX_LINKS = KUBO_V1_LEGACY.max_links

Cli = Any
CONTROL = "\x1b[2J\x1b]0;owned\x07\r\x9b31m\u202e"
"""Clear the screen, retitle the window, ring the bell, return the carriage, a C1 CSI and a bidi override."""
CONTROL_CHARS = "\x1b\x07\r\x9b\u202e"


def block_files(home: Path) -> list[Path]:
    """The store's block files and pack files (the blocks of large files, pulls and CAR imports go to packs)."""
    loose = [p for p in (home / "blocks").glob("*/*") if p.parent.name != ".tmp"]
    return [*loose, *(home / "packs").glob("*.pack")]


def stored_bytes(home: Path) -> int:
    return sum(path.stat().st_size for path in block_files(home))


def one_error_line(result: Any, code: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"error[{code}]" in result.stderr, result.stderr


def _as_at_a_terminal() -> None:
    """Ctrl-C as a user at a terminal sends it: a runner that started this suite in the background (a
    non-interactive shell's `&`) leaves SIGINT ignored in every child, which zkreg rightly honours."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(cli: Cli, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "ZKREG_HOME": str(cli.home)}
    env.pop("ZKREG_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "zkreg", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_at_a_terminal,
    )


def wait_until(proc: subprocess.Popen[str], ready: Any) -> None:
    deadline = time.monotonic() + 120
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the command finished before it could be interrupted; make the file bigger"


@contextmanager
def opened(home: Path) -> Iterator[Repo]:
    repo = Repo.open(home)
    try:
        yield repo
    finally:
        repo.close()


def big_sparse_file(path: Path, size: int) -> Path:
    """Distinct data at the start (blocks the store must not keep), then a sparse hole that takes seconds to hash."""
    with path.open("wb") as out:
        out.write(vectors.content(8 * 1024 * 1024, seed=7))
        out.truncate(size)
    return path


# ---- finding 4 (and 1): Ctrl-C ---------------------------------------------------------------------------------


def test_ctrl_c_during_publish_stops_exits_130_and_leaves_no_ref_and_no_blocks(cli: Cli, tmp_path: Path) -> None:
    assert cli("init").code == 0
    big = big_sparse_file(tmp_path / "big.bin", 3 * 1024**3)
    proc = start(cli, "publish", str(big), "--name", "big")
    wait_until(proc, lambda: stored_bytes(cli.home) >= 8 * 262144)

    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, (out, err)
    assert err.strip().splitlines() == ["zkreg: interrupted"]
    assert cli("ls", "--json").json() == []
    assert block_files(cli.home) == [], "the interrupted publish's blocks are removed"
    assert not list((cli.home / "blocks" / ".tmp").iterdir())
    assert cli("ledger", "log", "--json").json() == []


def test_ctrl_c_during_pull_exits_130_and_leaves_no_file(cli: Cli, tmp_path: Path) -> None:
    assert cli("init").code == 0
    big = big_sparse_file(tmp_path / "big.bin", 2 * 1024**3)
    with opened(cli.home) as repo:
        publish(repo, PublishRequest([big], name="big"))
    big.unlink()
    out_dir = tmp_path / "out"
    proc = start(cli, "pull", "big", "-o", str(out_dir))
    wait_until(proc, lambda: any(p.stat().st_size > 0 for p in out_dir.glob(".zkreg-pull-*/*")))

    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, (out, err)
    assert err.strip().splitlines() == ["zkreg: interrupted"]
    assert list(out_dir.iterdir()) == [], "no pulled file and no staging folder are left"


def test_reader_closing_the_pipe_is_a_quiet_exit_141(cli: Cli, tmp_path: Path) -> None:
    """`zkreg ledger log | head -1`: the reader goes away mid-output; no traceback, the exit code of SIGPIPE."""
    assert cli("init").code == 0
    (tmp_path / "data.txt").write_text("rows")
    with opened(cli.home) as repo:
        cid = publish(repo, PublishRequest([tmp_path / "data.txt"], name="rows")).cid
        attest = {"subject": cid, "verdict": "ok", "details": "x" * 200}
        repo.ledger.append_batch(repo.identity, [("attest", attest)] * 3000)
    proc = start(cli, "ledger", "log")
    assert proc.stdout is not None
    assert proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=60)

    assert "publish" in first
    assert proc.returncode == 141
    assert err == ""


def test_failed_publish_leaves_no_blocks_behind(cli: Cli, tmp_path: Path) -> None:
    assert cli("init").code == 0
    (tmp_path / "a.bin").write_bytes(vectors.content(900_000, seed=1))
    (tmp_path / "b.bin").write_bytes(vectors.content(900_000, seed=2))
    assert cli("publish", "a.bin", "--name", "w").code == 0
    before = sorted(block_files(cli.home))

    refused = cli("publish", "b.bin", "--name", "w", "--version", "1")  # fails once b's blocks are stored

    one_error_line(refused, "input/version-exists")
    assert sorted(block_files(cli.home)) == before
    assert cli("verify", "w").code == 0, "the blocks the held artefact shares are kept"


# ---- finding 5: damaged and unopenable local files -------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[1, 2]",
        b'{"type": "ed25519"}',
        b'{"type": "ed25519", "encryption": "none", "seed": 5}',
        b'{"type": "ed25519", "encryption": "none", "seed": "c2hvcnQ="}',
        b'{"type": "ed25519", "encryption": "none", "seed": "not base64!"}',
        b'{"type": "ed25519", "encryption": "argon2id+xsalsa20poly1305", "seed": "AAAA"}',
    ],
    ids=["not-json", "a-list", "no-seed", "seed-not-a-string", "seed-too-short", "seed-not-base64", "sealed-no-salt"],
)
def test_damaged_identity_file_is_one_error_line_naming_it(cli: Cli, content: bytes) -> None:
    assert cli("init").code == 0
    key_file = cli.home / "identity.json"
    key_file.write_bytes(content)

    result = cli("id", env={"ZKREG_PASSPHRASE": "pw"})

    assert result.code == 1
    one_error_line(result, "identity/damaged")
    assert str(key_file) in result.stderr


@pytest.mark.parametrize(
    ("database", "command", "code"),
    [("index.db", ("ls",), "store/index-unreadable"), ("ledger.db", ("ledger", "log"), "feed/db-unreadable")],
)
def test_database_that_cannot_be_opened_is_one_error_line(
    cli: Cli, database: str, command: tuple[str, ...], code: str
) -> None:
    assert cli("init").code == 0
    path = cli.home / database
    for leftover in cli.home.glob(f"{database}*"):
        leftover.unlink()
    path.mkdir()  # a directory where the database should be: sqlite3.connect itself fails

    result = cli(*command)

    assert result.code == 1
    one_error_line(result, code)


def test_ledger_import_of_an_endless_stream_is_refused_at_the_cap(cli: Cli) -> None:
    assert cli("init").code == 0

    result = cli("ledger", "import", "/dev/zero")

    assert result.code == 4
    one_error_line(result, "feed/oversized-import")


# ---- finding 8: pull never writes through a link, never overwrites silently -----------------------------------


def _publish_package(cli: Cli, tmp_path: Path) -> bytes:
    assert cli("init").code == 0
    package = tmp_path / "pkg"
    package.mkdir()
    published = vectors.content(300_000, seed=4)
    (package / "model.bin").write_bytes(published)
    assert cli("publish", str(package), "--name", "pkg").code == 0
    return published


def test_pull_does_not_write_through_a_symlinked_folder_in_the_output(cli: Cli, tmp_path: Path) -> None:
    _publish_package(cli, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "pkg").symlink_to(elsewhere)

    for force in ((), ("--force",)):
        refused = cli("pull", "pkg", "-o", str(out_dir), *force)
        assert refused.code == 1
        one_error_line(refused, "input/symlink-in-target")
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in out_dir.iterdir()) == ["pkg"]


def test_pull_does_not_replace_a_symlinked_file_in_the_output(cli: Cli, tmp_path: Path) -> None:
    _publish_package(cli, tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "out" / "pkg").mkdir(parents=True)
    (tmp_path / "out" / "pkg" / "model.bin").symlink_to(victim)

    refused = cli("pull", "pkg", "-o", "out", "--force")

    one_error_line(refused, "input/symlink-in-target")
    assert victim.read_text() == "precious"


def test_pull_refuses_to_overwrite_an_existing_file_without_force(cli: Cli, tmp_path: Path) -> None:
    published = _publish_package(cli, tmp_path)
    existing = tmp_path / "out" / "pkg" / "model.bin"
    existing.parent.mkdir(parents=True)
    existing.write_text("my own work")

    refused = cli("pull", "pkg", "-o", "out")
    one_error_line(refused, "input/file-exists")
    assert existing.read_text() == "my own work"
    assert "--force" in refused.stderr

    forced = cli("pull", "pkg", "-o", "out", "--force")
    assert forced.code == 0, forced.stderr
    assert existing.read_bytes() == published
    assert sorted(p.name for p in existing.parent.iterdir()) == ["model.bin"]


# ---- finding 9: DAG bombs and dead staging folders ------------------------------------------------------------


def _bomb_car(tmp_path: Path, levels: int, declared: int | None) -> Path:
    """A file DAG of `levels` nodes, each linking MAX_LINKS times to the one below, over one 256 KiB leaf: a few
    blocks that expand to 256 KiB * 174**levels. The manifest declares `declared` bytes (default: the true size)."""
    attacker = Repo.init(tmp_path / "attacker")
    leaf = vectors.content(CHUNK_SIZE, seed=9)
    cid, size = compute(RAW, leaf), CHUNK_SIZE
    attacker.store.put_block(cid, leaf)
    for _ in range(levels):
        links = [Link(cid_from_str(cid), "", size)] * MAX_LINKS
        node = encode_node(links, _file_data(size * MAX_LINKS, [size] * MAX_LINKS))
        cid, size = compute(DAG_PB, node), size * MAX_LINKS
        attacker.store.put_block(cid, node)
    tree_block = directory_node({"bomb.bin": (cid, size)})
    tree = compute(DAG_PB, tree_block)
    attacker.store.put_block(tree, tree_block)
    manifest, block = build_and_sign(
        attacker.identity,
        kind="dataset",
        name="bomb",
        version="1",
        created="2026-12-01T00:00:00Z",
        files={"bomb.bin": (cid, size if declared is None else declared)},
        tree=tree,
        parents=[],
        weights="public",
        dataset=None,
        message=None,
    )
    car = tmp_path / "bomb.car"
    with car.open("wb") as out:
        write_car(out, [manifest], [(manifest, block), *walk_dag(attacker.store.get_block, [tree])])
    attacker.close()
    return car


def test_dag_bomb_larger_than_the_free_disk_is_refused_before_writing(cli: Cli, tmp_path: Path) -> None:
    assert cli("init").code == 0
    car = _bomb_car(tmp_path, levels=3, declared=None)  # 4 blocks, about 1.3 TB once written
    assert car.stat().st_size < 300_000
    assert cli("import", str(car)).code == 0

    refused = cli("pull", "bomb", "-o", "out")

    assert refused.code == 1
    one_error_line(refused, "store/no-space")
    assert list((tmp_path / "out").glob("**/*")) == []


def test_dag_bomb_under_a_small_declared_size_is_refused_before_writing(cli: Cli, tmp_path: Path) -> None:
    assert cli("init").code == 0
    car = _bomb_car(tmp_path, levels=2, declared=1000)  # the DAG says 7.4 GiB, the signed manifest 1000 bytes
    assert cli("import", str(car)).code == 0

    refused = cli("pull", "bomb", "-o", "out")

    assert refused.code == 4
    one_error_line(refused, "integrity/size-mismatch")
    assert list((tmp_path / "out").glob("**/*")) == []


def test_staging_folder_of_a_killed_pull_is_removed_by_the_next_pull(cli: Cli, tmp_path: Path) -> None:
    assert cli("init").code == 0
    big = big_sparse_file(tmp_path / "big.bin", 2 * 1024**3)
    small = tmp_path / "small.txt"
    small.write_text("small")
    with opened(cli.home) as repo:
        publish(repo, PublishRequest([big], name="big"))
        publish(repo, PublishRequest([small], name="small"))
    big.unlink()
    out_dir = tmp_path / "out"
    proc = start(cli, "pull", "big", "-o", str(out_dir))
    wait_until(proc, lambda: any(p.stat().st_size > 0 for p in out_dir.glob(".zkreg-pull-*/*")))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert list(out_dir.glob(".zkreg-pull-*")), "the killed pull left its staging folder"

    assert cli("pull", "small", "-o", str(out_dir)).code == 0

    assert sorted(p.name for p in out_dir.iterdir()) == ["small.txt"]


# ---- finding 10: a ref without its publish entry is repaired ---------------------------------------------------


def test_republish_repairs_a_ref_left_without_its_publish_entry(cli: Cli, tmp_path: Path) -> None:
    """The state a crash between the index commit and the ledger append leaves: reproduced by committing the ref
    through the index API without appending the entry (nothing is deleted or corrupted)."""
    assert cli("init").code == 0
    data = tmp_path / "data.bin"
    data.write_bytes(vectors.content(400_000, seed=5))
    with opened(cli.home) as repo:
        imported = repo.store.put_file(data, KUBO_V1_LEGACY)
        tree = put_tree(repo.store, {"data.bin": (imported.cid, imported.tsize)}, KUBO_V1_LEGACY)
        cid, block = build_and_sign(
            repo.identity,
            kind="dataset",
            name="w",
            version="1",
            created="2026-12-01T00:00:00Z",
            files={"data.bin": (imported.cid, imported.size)},
            tree=tree,
            parents=[],
            weights="public",
            dataset=None,
            message=None,
        )
        repo.store.put_block(cid, block)
        repo.store.flush_index()
        with repo.index.transaction() as index:
            index.add_ref(Ref("w", "1", cid, repo.identity.did, "dataset", "2026-12-01T00:00:00Z"))
    assert cli("ledger", "log", "--json").json() == []

    again = cli("publish", str(data), "--name", "w", "--json")

    assert again.code == 0, again.stderr
    assert (again.json()["cid"], again.json()["created"]) == (cid, False)
    entries = cli("ledger", "log", "--json").json()
    assert [(entry["type"], entry["body"]) for entry in entries] == [("publish", {"manifest": cid})]
    assert cli("publish", str(data), "--name", "w").code == 0
    assert len(cli("ledger", "log", "--json").json()) == 1, "repaired once, not on every re-publish"


# ---- finding 11: terminal control characters ------------------------------------------------------------------


def test_terminal_control_characters_in_names_and_messages_are_escaped(cli: Cli, tmp_path: Path) -> None:
    assert cli("init").code == 0
    folder = tmp_path / "evil"
    folder.mkdir()
    file_name = f"a{CONTROL}\nauthor did:key:forged.txt"
    (folder / file_name).write_text("x")
    message = f"hello{CONTROL}"
    assert cli("publish", str(folder), "--name", "evil", "-m", message).code == 0
    with opened(cli.home) as repo:
        details = f"fine{CONTROL}\nforged line"
        repo.ledger.append(
            repo.identity, "attest", {"subject": repo.resolve("evil"), "verdict": "ok", "details": details}
        )

    outputs = [
        cli("show", "evil"),
        cli("log", "evil"),
        cli("ls"),
        cli("pull", "evil", "-o", "out"),
        cli("show", f"nope{CONTROL}"),
        cli("ledger", "log"),
        cli("consensus", "evil"),
    ]

    for result in outputs:
        for char in CONTROL_CHARS:
            assert char not in result.stdout + result.stderr, (char, result)
    assert "\\x1b[2J" in outputs[0].stdout, "escaped, still visible"
    assert not any(line.startswith("author did:key:forged") for line in outputs[0].stdout.splitlines())
    assert not any(line.startswith("forged line") for line in outputs[5].stdout.splitlines())
    assert not any(line.startswith("forged line") for line in outputs[6].stdout.splitlines())
    assert "fine\\x1b[2J" in outputs[6].stdout, "an attester's details are shown, escaped"
    shown = cli("show", "evil", "--json").json()
    assert list(shown["files"]) == [f"evil/{file_name}"]
    assert shown["message"] == message
    assert (tmp_path / "out" / "evil" / file_name).read_text() == "x"


# ---- finding 12: import from a pipe, names checked before storing --------------------------------------------


def test_import_from_a_pipe_reads_it_once(cli: Cli, tmp_path: Path) -> None:
    _publish_package(cli, tmp_path)
    assert cli("export", "pkg", "-o", "pkg.car").code == 0
    other = tmp_path / "other-home"
    assert cli("init", home_dir=other).code == 0
    env = {**os.environ, "ZKREG_HOME": str(other)}

    proc = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m zkreg import --json <(cat pkg.car)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["refs"] == ["pkg@1"]
    assert cli("verify", "pkg", home_dir=other).code == 0


def test_failed_import_from_a_pipe_stores_nothing(cli: Cli, tmp_path: Path) -> None:
    _publish_package(cli, tmp_path)
    assert cli("export", "pkg", "-o", "pkg.car").code == 0
    other = tmp_path / "other-home"
    assert cli("init", home_dir=other).code == 0
    env = {**os.environ, "ZKREG_HOME": str(other)}
    car = (tmp_path / "pkg.car").read_bytes()
    (tmp_path / "cut.car").write_bytes(car[: len(car) - 100])  # the last block is cut short

    proc = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m zkreg import <(cat cut.car)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )

    assert proc.returncode == 4, proc.stderr
    assert block_files(other) == []


@pytest.mark.parametrize(
    ("option", "value", "code"),
    [
        ("--name", "bad name", "input/bad-name"),
        ("--name", "../up", "input/bad-name"),
        ("--version", "1/2", "input/bad-version"),
    ],
)
def test_bad_name_or_version_is_refused_before_any_block_is_stored(
    cli: Cli, tmp_path: Path, option: str, value: str, code: str
) -> None:
    assert cli("init").code == 0
    (tmp_path / "data.bin").write_bytes(vectors.content(600_000, seed=6))
    args = ["--name", "ok", option, value] if option == "--version" else ["--name", value]

    refused = cli("publish", "data.bin", *args)

    assert refused.code == 1
    one_error_line(refused, code)
    assert block_files(cli.home) == []


def test_pull_remote_refuses_to_overwrite_an_existing_file_without_force(
    start_peer: StartPeer,  # noqa: F811  (the fixture imported above)
    cli: Cli,
    tmp_path: Path,
) -> None:
    alice = start_peer("alice")
    cid = publish_dataset(alice, tmp_path / "data")
    assert cli("init").code == 0
    existing = tmp_path / "got" / "data.csv"
    existing.parent.mkdir()
    existing.write_text("my own work")

    refused = cli("pull", cid, "--remote", alice.url, "-o", "got")
    one_error_line(refused, "input/file-exists")
    assert existing.read_text() == "my own work"

    forced = cli("pull", cid, "--remote", alice.url, "-o", "got", "--force")
    assert forced.code == 0, forced.stderr
    assert existing.read_text().startswith("sepal,petal")
