"""CID profiles (IPIP-499): golden vectors per profile at every size where chunking and tree width change and for
directories at and over the HAMT threshold (CIDs from the IPIP's fixtures, aleph-cid and ipfs-unixfs-importer,
see tests/vectors.py); `zkreg cid` equals what publish stores; HAMT directories publish, verify, pull and travel
in CARs; the stat cache never trusts a changed file."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import vectors
from zkreg.api import (
    CidRequest,
    ExportCarRequest,
    ImportCarRequest,
    PublishRequest,
    PullRequest,
    Repo,
    VerifyRequest,
    compute_cids,
    export_car,
    import_car,
    publish,
    pull,
    verify,
)
from zkreg.errors import BadCidProfile, NotFound
from zkreg.registry.cid import as_version
from zkreg.registry.unixfs import PROFILES, FileImporter, decode_file_node, import_path, profile_named
from zkreg.registry.unixfs import _fields as unixfs_fields

GOLDEN = vectors.load("cid-profiles")
BIG = 100 * vectors.MIB  # above this, a vector is streamed through the importer instead of written to a file

FILE_CASES = [
    pytest.param(profile, name, marks=[pytest.mark.slow] if entry.get("size", 0) > BIG else [], id=f"{profile}-{name}")
    for profile, entries in GOLDEN.items()
    for name, entry in entries.items()
    if entry["kind"] == "file" and "size" in entry
]
IPIP_FILE_CASES = [
    pytest.param(profile, name, marks=[pytest.mark.slow] if spec[0] > BIG else [], id=f"{profile}-{name}")
    for profile, fixtures in vectors.IPIP_499.items()
    for name, (kind, spec, _) in fixtures.items()
    if kind == "file"
]
DIRECTORY_CASES = [
    pytest.param(profile, name, id=f"{profile}-{name}")
    for profile, entries in GOLDEN.items()
    for name, entry in entries.items()
    if entry["kind"] == "directory"
]


def _streamed_cid(size: int, seed: str, profile: str) -> str:
    importer = FileImporter(lambda cid, block: None, profile_named(profile))
    chunk = importer.profile.chunk_size
    pending = b""
    for piece in vectors.keystream(size, seed, piece=chunk):
        pending += piece
        while len(pending) >= chunk:
            importer.add_chunk(pending[:chunk])
            pending = pending[chunk:]
    if pending:
        importer.add_chunk(pending)
    return as_version(importer.finish().cid, importer.profile.cid_version)


def _file_cid(tmp_path: Path, size: int, seed: str, profile: str) -> str:
    if size > BIG:
        return _streamed_cid(size, seed, profile)
    path = tmp_path / "input.bin"
    with path.open("wb") as out:
        for piece in vectors.keystream(size, seed):
            out.write(piece)
    chosen = profile_named(profile)
    return as_version(import_path(path, lambda cid, block: None, chosen).cid, chosen.cid_version)


@pytest.mark.parametrize(("profile", "name"), FILE_CASES)
def test_file_cid_matches_independent_implementations(tmp_path: Path, profile: str, name: str) -> None:
    golden = GOLDEN[profile][name]
    assert _file_cid(tmp_path, golden["size"], golden["seed"], profile) == golden["cid"]


@pytest.mark.parametrize(("profile", "name"), IPIP_FILE_CASES)
def test_file_cid_matches_ipip_499_fixture(tmp_path: Path, profile: str, name: str) -> None:
    _, (size, seed), cid = vectors.IPIP_499[profile][name]
    assert _file_cid(tmp_path, size, seed, profile) == cid


@pytest.mark.parametrize("profile", list(vectors.IPIP_499))
def test_hello_world_matches_ipip_499_fixture(tmp_path: Path, repo: Repo, profile: str) -> None:
    _, text, cid = vectors.IPIP_499[profile]["hello-world"]
    (tmp_path / "hello.txt").write_text(text)
    (entry,) = compute_cids(repo, CidRequest([tmp_path / "hello.txt"], profile)).entries
    assert (entry.cid, entry.kind, entry.size) == (cid, "file", 11)


def _unixfs_type(block: bytes) -> int:
    data = dict(unixfs_fields(block)).get(1)
    assert isinstance(data, bytes)
    node_type = dict(unixfs_fields(data))[1]
    assert isinstance(node_type, int)
    return node_type


@pytest.mark.parametrize(("profile", "name"), DIRECTORY_CASES)
def test_directory_at_and_over_the_hamt_threshold(tmp_path: Path, repo: Repo, profile: str, name: str) -> None:
    """A folder's CID through `zkreg cid`: a basic directory exactly at the threshold, a HAMT one byte over."""
    golden = GOLDEN[profile][name]
    folder = tmp_path / "dir"
    folder.mkdir()
    for file_name in vectors.fixture_names(*golden["spec"]):
        (folder / file_name).write_bytes(b"x")
    (entry,) = compute_cids(repo, CidRequest([folder], profile)).entries
    assert (entry.cid, entry.kind) == (golden["cid"], "directory")


def test_unknown_profile_is_refused_with_its_own_code(tmp_path: Path, repo: Repo) -> None:
    (tmp_path / "a").write_bytes(b"a")
    with pytest.raises(BadCidProfile, match="unixfs-v1-2025"):
        compute_cids(repo, CidRequest([tmp_path / "a"], "unixfs-v2-2030"))
    with pytest.raises(BadCidProfile):
        publish(repo, PublishRequest([tmp_path / "a"], name="a", cid_profile="nope"))
    assert repo.ls() == []


@pytest.fixture(scope="module")
def shared_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    with Repo.init(tmp_path_factory.mktemp("profiles") / "home") as repo:
        yield repo


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    profile=st.sampled_from(sorted(PROFILES)),
    size=st.one_of(st.integers(0, 3 * vectors.MIB), st.sampled_from([vectors.MIB, 256 * 1024 + 1])),
    seed=st.integers(0, 2**16),
)
def test_zkreg_cid_equals_the_cid_publish_stores(
    shared_repo: Repo, tmp_path_factory: pytest.TempPathFactory, profile: str, size: int, seed: int
) -> None:
    folder = tmp_path_factory.mktemp("prop")
    path = folder / "data.bin"
    path.write_bytes(vectors.content(size, seed))
    (computed,) = compute_cids(shared_repo, CidRequest([path], profile)).entries
    published = publish(shared_repo, PublishRequest([path], name=f"p{seed}-{size}", cid_profile=profile))
    manifest = shared_repo.show(published.cid)
    assert manifest.cid_profile == profile
    assert as_version(manifest.files["data.bin"], profile_named(profile).cid_version) == computed.cid
    assert b"".join(shared_repo.store.iter_file(manifest.files["data.bin"], size)) == path.read_bytes()


def test_republish_keeps_the_recorded_profile_and_old_manifests_mean_legacy(tmp_path: Path, repo: Repo) -> None:
    (tmp_path / "w.bin").write_bytes(vectors.content(300_000, seed=4))
    first = repo.show(publish(repo, PublishRequest([tmp_path / "w.bin"], name="w", cid_profile="unixfs-v0-2015")).cid)
    again = publish(repo, PublishRequest([tmp_path / "w.bin"], name="w"))
    assert not again.created  # same profile chosen from the manifest, so the same tree: nothing new
    (repo.home / "config.toml").write_text('cid_profile = "kubo-v1-legacy"\n')
    (tmp_path / "n.bin").write_bytes(b"new")
    assert repo.show(publish(repo, PublishRequest([tmp_path / "n.bin"], name="n")).cid).cid_profile == "kubo-v1-legacy"
    assert first.cid_profile == "unixfs-v0-2015"
    assert first.to_json()["cid_profile"] == "unixfs-v0-2015"
    # A v0 file DAG has dag-pb leaves: reading it back walks them.
    root = decode_file_node(repo.store.get_block(first.files["w.bin"]))
    assert len(root.links) == 2
    assert b"".join(repo.store.iter_file(first.files["w.bin"], 300_000)) == (tmp_path / "w.bin").read_bytes()


@pytest.mark.slow
def test_hamt_directory_publishes_verifies_pulls_and_travels_in_a_car(tmp_path: Path, repo: Repo) -> None:
    golden = GOLDEN["unixfs-v1-2025"]["ipip-dir-over-threshold"]
    folder = tmp_path / "shards"
    folder.mkdir()
    names = vectors.fixture_names(*golden["spec"])
    for index, file_name in enumerate(names):
        (folder / file_name).write_bytes(b"x" if index else b"first")
    result = publish(repo, PublishRequest([folder], name="many", cid_profile="unixfs-v1-2025"))
    manifest = repo.show(result.cid)
    (wrapped,) = [link for link in _dag_links(repo, manifest.tree)]
    assert _unixfs_type(repo.store.get_block(wrapped)) == 5  # the folder is a HAMT shard
    assert verify(repo, VerifyRequest(result.cid)).bytes == len(names) + 4
    pulled = pull(repo, PullRequest("many", tmp_path / "out"))
    assert sorted(p.name for p in (pulled.directory / "shards").iterdir()) == sorted(names)
    export_car(repo, ExportCarRequest("many", tmp_path / "many.car"))
    with Repo.init(tmp_path / "other") as other:
        import_car(other, ImportCarRequest(tmp_path / "many.car"))
        assert verify(other, VerifyRequest(result.cid)).bytes == len(names) + 4
        assert _unixfs_type(other.store.get_block(wrapped)) == 5


def _dag_links(repo: Repo, cid: str) -> list[str]:
    from zkreg.registry.dag import links_of

    return links_of(cid, repo.store.get_block(cid))


class _Hashing:
    """Progress that records which files were hashed."""

    def __init__(self) -> None:
        self.hashed: list[str] = []

    def begin(self, label: str, total: int | None) -> None:
        self.hashed.append(label.removeprefix("hashing "))

    def advance(self, amount: int) -> None:
        pass

    def end(self) -> None:
        pass


def _age_past_the_racy_margin() -> None:
    """The stat cache records only files last changed over a second before hashing began (see statcache.py)."""
    time.sleep(1.1)


def test_republish_hashes_only_the_changed_file(tmp_path: Path, repo: Repo) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    for index in range(3):
        (folder / f"part{index}.bin").write_bytes(vectors.content(200_000, seed=index))
    _age_past_the_racy_margin()
    first = _Hashing()
    publish(repo, PublishRequest([folder], name="m"), first)
    assert sorted(first.hashed) == ["part0.bin", "part1.bin", "part2.bin"]
    (folder / "part1.bin").write_bytes(vectors.content(200_000, seed=99))
    second = _Hashing()
    result = publish(repo, PublishRequest([folder], name="m"), second)
    assert second.hashed == ["part1.bin"]
    manifest = repo.show(result.cid)
    expected = compute_cids(repo, CidRequest([folder / "part1.bin"])).entries[0].cid
    assert manifest.files["model/part1.bin"] == expected
    assert verify(repo, VerifyRequest(result.cid)).bytes == 600_000


def test_stale_stat_cache_entry_is_never_trusted_same_size_and_mtime_forced_back(tmp_path: Path, repo: Repo) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(vectors.content(100_000, seed=1))
    _age_past_the_racy_margin()
    before = path.stat()
    old = repo.show(publish(repo, PublishRequest([path], name="w")).cid).files["weights.bin"]
    changed = bytearray(path.read_bytes())
    changed[50_000] ^= 0xFF
    with path.open("r+b") as out:  # in place: same inode, same size
        out.write(changed)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns, path.stat().st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    hashing = _Hashing()
    new = repo.show(publish(repo, PublishRequest([path], name="w"), hashing).cid).files["weights.bin"]
    assert hashing.hashed == ["weights.bin"]
    assert new != old
    assert new == compute_cids(repo, CidRequest([path])).entries[0].cid


def test_cached_cid_whose_blocks_are_gone_is_hashed_again(tmp_path: Path, repo: Repo) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"a,b\n" * 1000)
    _age_past_the_racy_margin()
    cid = repo.show(publish(repo, PublishRequest([path], name="d")).cid).files["d.csv"]
    repo.store.remove_blocks([cid])
    hashing = _Hashing()
    result = publish(repo, PublishRequest([path], name="d", version="2"), hashing)
    assert hashing.hashed == ["d.csv"]
    assert repo.store.has(cid)
    assert verify(repo, VerifyRequest(result.cid)).bytes == 4000


def test_verify_walks_the_directory_nodes_of_the_tree(tmp_path: Path, repo: Repo) -> None:
    folder = tmp_path / "set"
    (folder / "inner").mkdir(parents=True)
    (folder / "inner" / "a.txt").write_text("a")
    result = publish(repo, PublishRequest([folder], name="set"))
    manifest = repo.show(result.cid)
    (wrapped,) = _dag_links(repo, manifest.tree)
    (inner,) = _dag_links(repo, wrapped)
    assert inner not in manifest.files.values()  # a directory node, not a file
    repo.store.remove_blocks([inner])
    with pytest.raises(NotFound, match=inner):
        verify(repo, VerifyRequest(result.cid))
