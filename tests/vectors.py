"""Golden vectors: deterministic inputs, and the CIDs recorded for them in tests/vectors/.

`pytest --update-goldens` rewrites the JSON from aleph-cid (an independent implementation that matched a real
Kubo node), from ipfs-unixfs-importer (the JavaScript importer of the suite's js-ipfs node, run by
tests/ipfs-node/unixfs-vectors.mjs) and from the fixtures of IPIP-499 itself, and the DAG-CBOR encodings from
`dag_cbor` (an independent pure Python codec), never from zkreg's own code, so a bug in our importer or encoder
cannot bless itself. `cid-profiles.json` says for each CID which of them made it (all that are listed agreed).
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parent / "vectors"
IPFS_NODE = Path(__file__).parent / "ipfs-node"
KIB = 1024
MIB = 1024 * KIB

FILE_SIZES = {
    "empty": 0,
    "one-byte": 1,
    "one-chunk": 256 * KIB,
    "one-chunk-plus-one": 256 * KIB + 1,
    "two-level-tree": 174 * 256 * KIB + 1,
}

DIRECTORY = {
    "a.csv": b"x,y\n1,2\n",
    "b/model.onnx": b"\x08\x07",
    "b/c/deep.txt": b"deep\n",
    "empty.txt": b"",
    "z-large.bin": random.Random(5).randbytes(300 * KIB),
}


def content(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def write_directory(root: Path) -> Path:
    for rel, data in DIRECTORY.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


LINKED = "bafyreifb7tsdmocu76eiz72lrz4hlvqayjuchecbfkgppgzx2cyrcsfq7i"
LINKED_RAW = "bafkreibnoelefnzgwbcacyt4vh52ymxvzbjq7mmqhtcnwarfq4lzegsiqe"


def dag_cbor_documents(link: Callable[[str], Any]) -> dict[str, Any]:
    """Documents of the shapes zkreg signs, and the edges of canonical form; `link` makes a codec's CID link."""
    manifest_body = {
        "schema": "zkreg/manifest/1",
        "kind": "model",
        "name": "mnist",
        "version": "1.0.0",
        "created": "2026-01-01T00:00:00Z",
        "author": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "files": {"model.onnx": {"cid": link(LINKED_RAW), "size": 12345}, "a": {"cid": link(LINKED), "size": 0}},
        "tree": link(LINKED),
        "parents": [link(LINKED)],
        "weights": "public",
        "metrics": {},
        "zk": {"settings": link(LINKED_RAW), "mode": "public", "logrows": 17},
        "price": 3,
    }
    entry_body = {
        "author": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "seq": 1 << 40,
        "prev": None,
        "ts": 1_767_225_600_000,
        "type": "receipt",
        "body": {"request": "r-1", "proof": link(LINKED), "output_hash": "ab" * 32},
    }
    return {
        "manifest-body": manifest_body,
        "manifest-signed": {**manifest_body, "sig": bytes(range(64))},
        "entry-signed": {**entry_body, "sig": bytes(range(64, 128))},
        "car-header": {"roots": [link(LINKED), link(LINKED_RAW)], "version": 1},
        "key-order": {"bb": 1, "a": 2, "ab": 3, "b": 4, "aaa": 5, "é": 6, "": 7},
        "integers": [0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1, -1, -24, -25, -256, -(2**64)],
        "strings": ["", "a" * 23, "a" * 24, "a" * 256, "zkreg ✓ 𝔷"],
        "bytes": [b"", b"\x00" * 24, b"\xff" * 256],
        "simple": [True, False, None, [], {}, [[[]]]],
    }


# ---- CID profiles (IPIP-499) -------------------------------------------------------------------------------

PROFILE_PARAMS = {  # the IPIP's tables, written out here rather than imported, so our code cannot bless itself
    "unixfs-v1-2025": {"chunk": MIB, "links": 1024, "raw": True, "version": 1, "cid_bytes": 36},
    "unixfs-v0-2015": {"chunk": 256 * KIB, "links": 174, "raw": False, "version": 0, "cid_bytes": 34},
    "kubo-v1-legacy": {"chunk": 256 * KIB, "links": 174, "raw": True, "version": 1, "cid_bytes": 36},
}
SEED = "zkreg-cid-profiles"

IPIP_499 = {
    # From IPIP-499's "Test fixtures" and Kubo's test/cli/cid_profiles_test.go, which says how each input is made:
    # ChaCha20 keystream keyed by sha256(seed) (`keystream`); directories of files holding "x", named by
    # `fixture_names` with (count, name length, last name length, seed).
    "unixfs-v0-2015": {
        "hello-world": ("text", "hello world", "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"),
        "ipip-at-chunk": ("file", (256 * KIB, "chunk-v0-seed"), "QmWmRj3dFDZdb6ABvbmKhEL6TmPbAfBZ1t5BxsEyJrcZhE"),
        "ipip-over-chunk": ("file", (256 * KIB + 1, "chunk-v0-seed"), "QmYyLxtzZyW22zpoVAtKANLRHpDjZtNeDjQdJrcQNWoRkJ"),
        "ipip-at-max-links": ("file", (174 * 256 * KIB, "v0-seed"), "QmUbBALi174SnogsUzLpYbD4xPiBSFANF4iztWCsHbMKh2"),
        "ipip-over-max-links": (
            "file",
            (174 * 256 * KIB + 1, "v0-seed"),
            "QmV81WL765sC8DXsRhE5fJv2rwhS4icHRaf3J9Zk5FdRnW",
        ),
        "ipip-dir-at-threshold": (
            "directory",
            (4096, 30, 30, "hamt-unixfs-v0-2015"),
            "QmX5GtRk3TSSEHtdrykgqm4eqMEn3n2XhfkFAis5fjyZmN",
        ),
        "ipip-dir-over-threshold": (
            "directory",
            (4033, 31, 31, "hamt-unixfs-v0-2015"),
            "QmeMiJzmhpJAUgynAcxTQYek5PPKgdv3qEvFsdV3XpVnvP",
        ),
    },
    "unixfs-v1-2025": {
        "hello-world": ("text", "hello world", "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"),
        "ipip-at-chunk": (
            "file",
            (MIB, "chunk-v1-seed"),
            "bafkreiacndfy443ter6qr2tmbbdhadvxxheowwf75s6zehscklu6ezxmta",
        ),
        "ipip-over-chunk": (
            "file",
            (MIB + 1, "chunk-v1-seed"),
            "bafybeigmix7t42i6jacydtquhet7srwvgpizfg7gjbq7627d35mjomtu64",
        ),
        "ipip-at-max-links": (
            "file",
            (1024 * MIB, "v1-2025-seed"),
            "bafybeihmf37wcuvtx4hpu7he5zl5qaf2ineo2lqlfrapokkm5zzw7zyhvm",
        ),
        "ipip-over-max-links": (
            "file",
            (1024 * MIB + 1, "v1-2025-seed"),
            "bafybeibdsi225ugbkmpbdohnxioyab6jsqrmkts3twhpvfnzp77xtzpyhe",
        ),
        "ipip-dir-at-threshold": (
            "directory",
            (4766, 11, 21, "hamt-unixfs-v1-2025"),
            "bafybeic3h7rwruealwxkacabdy45jivq2crwz6bufb5ljwupn36gicplx4",
        ),
        "ipip-dir-over-threshold": (
            "directory",
            (4766, 11, 22, "hamt-unixfs-v1-2025"),
            "bafybeiegvuterwurhdtkikfhbxcldohmxp566vpjdofhzmnhv6o4freidu",
        ),
    },
}

LEGACY_DIRECTORIES = {
    # kubo-v1-legacy shards by links-bytes over 256 KiB like unixfs-v0-2015, with 36-byte CIDs:
    # 4096 * (28 + 36) = 262144 stays a directory, 4033 * (29 + 36) = 262145 is one byte over.
    "dir-at-threshold": ((4096, 28, 28, "hamt-kubo-v1-legacy"), False),
    "dir-over-threshold": ((4033, 29, 29, "hamt-kubo-v1-legacy"), True),
}
_NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz01234567890-_"  # Kubo's testutils.AlphabetEasy, '0' twice as there


def keystream(size: int, seed: str, piece: int = MIB) -> Iterator[bytes]:
    """Kubo's deterministic test bytes: the ChaCha20 keystream under key sha256(seed) and a zero nonce."""
    from Crypto.Cipher import ChaCha20

    cipher = ChaCha20.new(key=hashlib.sha256(seed.encode()).digest(), nonce=bytes(12))
    for start in range(0, size, piece):
        yield cipher.encrypt(bytes(min(piece, size - start)))


def fixture_names(count: int, length: int, last_length: int, seed: str) -> list[str]:
    """Kubo's deterministic file names: successive keystream bytes mapped onto its alphabet."""
    stream = b"".join(keystream(MIB, seed))
    names, offset = [], 0
    for index in range(count):
        size = last_length if index == count - 1 else length
        names.append("".join(_NAME_ALPHABET[byte % len(_NAME_ALPHABET)] for byte in stream[offset : offset + size]))
        offset += size
    return names


def profile_file_sizes(profile: str) -> dict[str, int]:
    """Where chunking and tree width change: 0 B, 1 B, chunk ± 1, links x chunk ± 1."""
    chunk, links = PROFILE_PARAMS[profile]["chunk"], PROFILE_PARAMS[profile]["links"]
    return {
        "empty": 0,
        "one-byte": 1,
        "chunk-minus-one": chunk - 1,
        "chunk": chunk,
        "chunk-plus-one": chunk + 1,
        "links-times-chunk-minus-one": links * chunk - 1,
        "links-times-chunk": links * chunk,
        "links-times-chunk-plus-one": links * chunk + 1,
    }


def _aleph_file(profile: str, size: int) -> str | None:
    import aleph_cid

    makers = {
        "unixfs-v0-2015": aleph_cid.CidHasher.for_ipfs,
        "kubo-v1-legacy": aleph_cid.CidHasher.for_ipfs_v1_raw_leaves,
    }
    if profile not in makers:
        return None  # aleph-cid has no 1 MiB / 1024-link profile
    hasher = makers[profile]()
    for piece in keystream(size, SEED):
        hasher.update(piece)
    return str(hasher.finalize())


def _js_importer(cases: list[dict[str, Any]]) -> dict[str, str]:
    answer = subprocess.run(
        ["node", "unixfs-vectors.mjs"],
        input=json.dumps(cases),
        cwd=IPFS_NODE,
        capture_output=True,
        check=True,
        text=True,
    )
    result: dict[str, str] = json.loads(answer.stdout)
    return result


def regenerate_profiles() -> None:
    vectors: dict[str, dict[str, Any]] = {}
    cases: list[dict[str, Any]] = []
    for profile, params in PROFILE_PARAMS.items():
        shape = {key: params[key] for key in ("chunk", "links", "raw", "version")}
        entries: dict[str, Any] = {}
        for name, size in profile_file_sizes(profile).items():
            entries[name] = {"kind": "file", "size": size, "seed": SEED, "sources": {}}
            cases.append({"id": f"{profile}/{name}", "kind": "file", "size": size, "seed": SEED, **shape})
            aleph = _aleph_file(profile, size)
            if aleph is not None:
                entries[name]["sources"]["aleph-cid 0.1.0"] = aleph
        for name, (kind, spec, cid) in IPIP_499.get(profile, {}).items():
            entries[name] = {"kind": kind, "spec": spec, "sources": {"IPIP-499 fixtures": cid}}
            if kind == "directory":
                hamt = "over" in name
                cases.append(
                    {"id": f"{profile}/{name}", "kind": kind, "names": fixture_names(*spec), "hamt": hamt, **shape}
                )
        if profile == "kubo-v1-legacy":
            for name, (spec, hamt) in LEGACY_DIRECTORIES.items():
                entries[name] = {"kind": "directory", "spec": spec, "sources": {}}
                cases.append(
                    {
                        "id": f"{profile}/{name}",
                        "kind": "directory",
                        "names": fixture_names(*spec),
                        "hamt": hamt,
                        **shape,
                    }
                )
        vectors[profile] = entries
    for case_id, cid in _js_importer(cases).items():
        profile, name = case_id.split("/")
        vectors[profile][name]["sources"]["ipfs-unixfs-importer 12.0.1"] = cid
    for profile, entries in vectors.items():
        for name, entry in entries.items():
            found = set(entry.pop("sources").items())
            cids = {cid for _, cid in found}
            if len(cids) != 1:
                raise AssertionError(f"independent implementations disagree on {profile}/{name}: {sorted(found)}")
            entry["cid"] = cids.pop()
            entry["made_by"] = sorted(source for source, _ in found)
    (VECTORS / "cid-profiles.json").write_text(json.dumps(vectors, indent=1) + "\n")


def load(name: str) -> Any:
    return json.loads((VECTORS / f"{name}.json").read_text())


def regenerate(tmp: Path) -> None:
    import aleph_cid

    files = {}
    for name, size in FILE_SIZES.items():
        hasher = aleph_cid.CidHasher.for_ipfs_v1_raw_leaves()
        hasher.update(content(size))
        files[name] = {"size": size, "seed": 0, "cid": hasher.finalize()}
    directory = aleph_cid.hash_folder(str(write_directory(tmp / "dir")), cid_version=1, follow_symlinks=False)
    VECTORS.mkdir(exist_ok=True)
    (VECTORS / "unixfs-files.json").write_text(json.dumps(files, indent=2) + "\n")
    (VECTORS / "unixfs-directory.json").write_text(json.dumps({"cid": directory}, indent=2) + "\n")
    regenerate_profiles()
    regenerate_dag_cbor()


def regenerate_dag_cbor() -> None:
    import dag_cbor
    from multiformats import CID

    documents = dag_cbor_documents(CID.decode)
    encodings = {name: dag_cbor.encode(document).hex() for name, document in documents.items()}
    (VECTORS / "dag-cbor.json").write_text(json.dumps(encodings, indent=2) + "\n")
