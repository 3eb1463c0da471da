"""`IpfsStore`: the blockstore interface over an IPFS node's HTTP RPC API (Kubo's `/api/v0`, which js-ipfs serves too).

Nothing the node says is trusted: every block read from it is re-hashed against its CID before it is used or
cached, and every CID the node reports for what we uploaded must equal the one we computed offline in the same pass.
Files go in through `/add` (streamed, with our chunking parameters) so the node builds its own UnixFS DAG and we
compare roots; everything else (manifests, directory nodes) goes in with `block/put` under its codec, so
`ipfs dag get CID` shows it. Connection failures are retried with backoff (the request never reached the node);
any other failure, or a node too slow to answer, is a `BackendUnavailable` naming the API address.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import IO, Any, BinaryIO

import httpx

from zkreg import transport
from zkreg.errors import (
    BadIpfsApi,
    BadTimeout,
    BlockNotFound,
    CidMismatch,
    FileChanged,
    IpfsMalformedAnswer,
    IpfsRefused,
    NotFound,
)
from zkreg.progress import SILENT, Progress
from zkreg.registry.car import car_header, car_section, read_blocks, read_roots, write_car
from zkreg.registry.cid import DAG_CBOR, DAG_PB, RAW, as_version, check_block, cid_from_str
from zkreg.registry.dag import links_of
from zkreg.registry.store import BlockStore, LocalStore
from zkreg.registry.unixfs import CidProfile, FileImporter, ImportedFile, PutBlock, import_path, read_chunks

DEFAULT_API = "/ip4/127.0.0.1/tcp/5001"
API_ENV = "ZKREG_IPFS_API"
TIMEOUT_ENV = "ZKREG_IPFS_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 5.0
BLOCK_WAIT_S = 10.0
"""How long the node may look for a block it does not hold before it answers "not found"."""
MAX_BLOCK_BYTES = 4 * 1024 * 1024 + 1024
"""Largest block zkreg reads from a node: a manifest (4 MiB) or a 256 KiB chunk; anything larger is a lie."""
RETRIES = 3
BACKOFF_S = 0.25

_CODEC_NAMES = {RAW: "raw", DAG_PB: "dag-pb", DAG_CBOR: "dag-cbor"}


def api_url(address: str) -> str:
    """The HTTP base URL for an API address given as a multiaddr (`/ip4/127.0.0.1/tcp/5001`) or a URL."""
    text = address.strip()
    if text.startswith(("http://", "https://")):
        return text.rstrip("/")
    parts = text.strip("/").split("/")
    if len(parts) >= 4 and parts[0] in ("ip4", "ip6", "dns", "dns4", "dns6") and parts[2] == "tcp":
        host, port = parts[1], parts[3]
        scheme = "https" if parts[4:5] == ["https"] else "http"
        if port.isdigit() and parts[4:] in ([], ["http"], ["https"]):
            return f"{scheme}://{f'[{host}]' if parts[0] == 'ip6' else host}:{port}"
    raise BadIpfsApi(
        f"not an IPFS API address: {address!r}",
        hint="use a multiaddr like /ip4/127.0.0.1/tcp/5001 or a URL like http://127.0.0.1:5001",
    )


def configured_api() -> str:
    return os.environ.get(API_ENV) or DEFAULT_API


def _configured_timeout() -> float:
    text = os.environ.get(TIMEOUT_ENV)
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        return float(text)
    except ValueError as exc:
        raise BadTimeout(f"{TIMEOUT_ENV} must be a number of seconds, not {text!r}") from exc


class IpfsStore(BlockStore):
    """Blocks on an IPFS node; with a `cache`, reads are served from it first and verified node reads land in it,
    and writes go to both (so the local store always holds what was published)."""

    def __init__(
        self,
        address: str | None = None,
        *,
        cache: LocalStore | None = None,
        timeout: float | None = None,
        block_wait: float = BLOCK_WAIT_S,
    ) -> None:
        self.address = address or configured_api()
        self.base = api_url(self.address) + "/api/v0"
        self.cache = cache
        self._block_wait = block_wait
        read_timeout = _configured_timeout() if timeout is None else timeout
        # The API is addressed directly: an HTTP(S)_PROXY meant for the web must not capture loopback traffic.
        self._target = transport.IpfsApi(self.address, hint=f"is the node running? set {API_ENV} to its API address")
        self._http = httpx.Client(
            timeout=httpx.Timeout(read_timeout, connect=min(CONNECT_TIMEOUT_S, read_timeout)), trust_env=False
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> IpfsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- transport ---------------------------------------------------------------------------------------

    def _send(self, command: str, params: dict[str, Any], **request: Any) -> httpx.Response:
        """POST a command with the response streamed; connection failures are retried, nothing else is."""
        url = f"{self.base}/{command}"
        query = {**params, "cid-base": "base32"}
        with transport.map_transport_errors(self._target, command):
            for attempt in range(RETRIES):
                try:
                    req = self._http.build_request("POST", url, params=query, **request)
                    response = self._http.send(req, stream=True)
                except (httpx.ConnectError, httpx.ConnectTimeout):
                    if attempt == RETRIES - 1:
                        raise
                    time.sleep(BACKOFF_S * 2**attempt)
                    continue
                if response.status_code != 200:
                    message = self._error_message(response)
                    response.close()
                    raise _NodeRefused(command, message)
                return response
        raise AssertionError("unreachable")

    def _error_message(self, response: httpx.Response) -> str:
        try:
            body = response.read()[:4096]
        except httpx.HTTPError:
            return f"HTTP {response.status_code}"
        try:
            return str(json.loads(body)["Message"])
        except (ValueError, KeyError, TypeError):
            return f"HTTP {response.status_code}: {body[:200].decode(errors='replace')}"

    def _call(self, command: str, params: dict[str, Any] | None = None, **request: Any) -> list[Any]:
        """A command whose answer is one or more JSON documents (newline-delimited)."""
        try:
            with (
                transport.map_transport_errors(self._target, command),
                closing(self._send(command, params or {}, **request)) as response,
            ):
                body = response.read()
        except _NodeRefused as refused:
            raise IpfsRefused(f"IPFS node at {self.address} refused {command}: {refused.message}") from refused
        try:
            return [json.loads(line) for line in body.splitlines() if line.strip()]
        except ValueError as exc:
            raise IpfsMalformedAnswer(f"IPFS node at {self.address} sent a malformed answer to {command}") from exc

    # ---- node ----------------------------------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("version")[0]
        return answer

    def node_id(self) -> str:
        return str(self._call("id")[0]["ID"])

    # ---- blocks --------------------------------------------------------------------------------------------

    def put_block(self, cid: str, data: bytes) -> None:
        if self.cache is not None:
            self.cache.put_block(cid, data)
        codec = _CODEC_NAMES[cid_from_str(cid)[1]]
        # `format` + `version=1` is the form both Kubo and js-ipfs accept for a CIDv1 of a given codec.
        params = {"format": codec, "mhtype": "sha2-256", "version": "1", "pin": "false"}
        answer = self._call("block/put", params, files={"data": ("block", data, "application/octet-stream")})
        stored = answer[-1].get("Key") if answer and isinstance(answer[-1], dict) else None
        if stored != cid:
            raise CidMismatch(f"IPFS node at {self.address} stored block {cid} as {stored}")

    def get_block(self, cid: str) -> bytes:
        if self.cache is not None and self.cache.has(cid):
            return self.cache.get_block(cid)
        data = self._fetch_block(cid)
        check_block(cid, data)
        if self.cache is not None:
            self.cache.put_block(cid, data)
        return data

    def _fetch_block(self, cid: str) -> bytes:
        cid_from_str(cid)
        try:
            with (
                transport.map_transport_errors(self._target, f"block/get {cid}"),
                closing(self._send("block/get", {"arg": cid, "timeout": f"{self._block_wait:g}s"})) as response,
            ):
                buffer = bytearray()
                for piece in response.iter_bytes():
                    buffer += piece
                    if len(buffer) > MAX_BLOCK_BYTES:
                        raise CidMismatch(
                            f"IPFS node at {self.address} sent more than {MAX_BLOCK_BYTES} bytes for {cid}"
                        )
                return bytes(buffer)
        except _NodeRefused as refused:
            raise BlockNotFound(
                f"block {cid} is neither local nor on the IPFS node at {self.address} ({refused.message})",
            ) from refused

    def has(self, cid: str) -> bool:
        """Whether the node holds the block (asked of the node, not the cache)."""
        try:
            self._call("block/stat", {"arg": cid, "timeout": f"{self._block_wait:g}s"})
        except IpfsRefused:
            return False
        return True

    def pin(self, cid: str) -> None:
        """Pin the DAG under `cid` recursively: the node keeps every block of it (and must hold them all)."""
        self._call("pin/add", {"arg": cid, "recursive": "true"})

    def pinned(self, cid: str) -> bool:
        """Whether `cid` is pinned recursively, which implies the node holds its whole DAG."""
        try:
            answer = self._call("pin/ls", {"arg": cid, "type": "recursive"})
        except IpfsRefused:
            return False
        return any(cid in doc.get("Keys", {}) for doc in answer if isinstance(doc, dict))

    # ---- files ---------------------------------------------------------------------------------------------

    def put_file(self, path: Path, profile: CidProfile, progress: Progress = SILENT) -> ImportedFile:
        """Stream the file through the node's `/add` while computing our CID in the same pass; they must agree.
        A profile `/add` cannot express (links per node) goes up as the blocks zkreg computed, each one checked
        against the CID the node answers for it.

        Not pinned on its own: publishing pins the manifest recursively, which keeps every file under it."""
        size = path.stat().st_size
        progress.begin(f"uploading {path.name}", size)
        try:
            if profile.add_params is None:
                return self._import_dag(path, profile, progress)
            with path.open("rb") as stream:
                return self._add(path.name, stream, size, progress, profile)
        finally:
            progress.end()

    def _import_dag(self, path: Path, profile: CidProfile, progress: Progress) -> ImportedFile:
        """Build the file's DAG here into a spooled CAR and `dag/import` it (one request, blocks of any size, where
        `block/put` caps a body at 1 MiB on js-ipfs). The root is known only at the end, so the header is written
        with a placeholder of the same length and patched. The node must then hand back our root block."""
        with tempfile.TemporaryFile(prefix="zkreg-car-") as spool:
            spool.write(car_header([_PLACEHOLDER_ROOT]))

            def put(cid: str, block: bytes) -> None:
                spool.write(car_section(cid, block))
                if self.cache is not None:
                    self.cache.put_block(cid, block)

            ours = import_path(path, put, profile, progress.advance)
            if self.cache is not None:
                self.cache.flush_index()
            spool.seek(0)
            spool.write(car_header([ours.cid]))
            self._import_spooled(spool, ours.cid)
        return ours

    def put_dag(self, root: str, blocks: Iterable[tuple[str, bytes]]) -> None:
        """Put a DAG's blocks on the node as one CAR through `dag/import`: one request, and no 1 MiB cap per
        block as js-ipfs's `block/put` has. The node must then hand back the root block."""
        with tempfile.TemporaryFile(prefix="zkreg-car-") as spool:
            write_car(spool, [root], blocks)
            self._import_spooled(spool, root)

    def _import_spooled(self, spool: BinaryIO, root: str) -> None:
        spool.seek(0)
        self._call("dag/import", {"pin-roots": "false"}, files={"file": ("dag.car", spool)})
        check_block(root, self._fetch_block(root))

    def _add(self, name: str, stream: BinaryIO, size: int, progress: Progress, profile: CidProfile) -> ImportedFile:
        writer = _BackgroundWriter(self.cache.put_block) if self.cache is not None else None
        try:
            put = writer.put if writer else _discard
            ours, answer_bytes = self._upload(name, stream, size, progress, put, profile)
        finally:
            if writer is not None:
                writer.join()
        if writer is not None and self.cache is not None:
            writer.raise_error()
            self.cache.flush_index()
        try:
            answers = [json.loads(line) for line in answer_bytes.splitlines() if line.strip()]
            theirs = str(answers[-1]["Hash"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise IpfsMalformedAnswer(f"IPFS node at {self.address} sent a malformed answer to add") from exc
        if theirs != as_version(ours.cid, profile.cid_version):
            raise CidMismatch(
                f"IPFS node at {self.address} made {theirs} of {name}, zkreg computed {ours.cid}",
                hint=f"the node must build the DAG of CID profile {profile.name}",
            )
        return ours

    def _upload(
        self, name: str, stream: BinaryIO, size: int, progress: Progress, put_block: PutBlock, profile: CidProfile
    ) -> tuple[ImportedFile, bytes]:
        """POST the file to `/add` as one multipart body, feeding each chunk to our importer on its way out."""
        importer = FileImporter(put_block, profile)
        boundary = secrets.token_hex(16)
        head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{_quote(name)}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        def body() -> Iterator[bytes]:
            yield head
            for chunk in read_chunks(stream, profile.chunk_size, progress.advance):
                importer.add_chunk(chunk)
                yield chunk
            yield tail

        params = {
            **(profile.add_params or {}),
            "hash": "sha2-256",
            **({"cid-base": "base32"} if profile.cid_version == 1 else {}),  # a CIDv0 has one form only
            "pin": "false",
            "progress": "false",
        }
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
        }
        # One attempt only: a retry would re-read a stream the importer has already consumed.
        with transport.map_transport_errors(self._target, f"add {name}"):
            req = self._http.build_request("POST", f"{self.base}/add", params=params, content=body(), headers=headers)
            with closing(self._http.send(req, stream=True)) as response:
                answer_bytes = response.read()
                status = response.status_code
        if status != 200:
            raise IpfsRefused(
                f"IPFS node at {self.address} refused add {name}: {answer_bytes[:300].decode(errors='replace')}",
            )
        ours = importer.finish()
        if ours.size != size:
            raise FileChanged(f"{name} changed while it was being published")
        return ours, answer_bytes

    def iter_file(self, cid: str, size: int | None = None) -> Iterator[bytes]:
        """With a cache, a file not yet cached is first fetched in one streamed `dag/export` (one request instead
        of one per 256 KiB block), each block verified on arrival, then read back from the cache."""
        if self.cache is not None and not self.cache.has(cid):
            # Asked first because a node exporting a DAG it lacks waits for it instead of failing.
            if not self.has(cid):
                raise BlockNotFound(f"file {cid} is neither local nor on the IPFS node at {self.address}")
            self._prefetch(cid, self.cache)
        yield from super().iter_file(cid, size)

    def _prefetch(self, root: str, cache: LocalStore) -> None:
        """Cache the DAG under `root` from the node's CAR export. Only blocks of that DAG are accepted: each must
        hash to its CID and be linked from a block already received (the export is parents-first)."""
        wanted = {root}
        try:
            with (
                transport.map_transport_errors(self._target, f"dag/export {root}"),
                closing(self._send("dag/export", {"arg": root})) as response,
            ):
                stream = _ChunkReader(response.iter_bytes())
                read_roots(stream)
                for cid, block in read_blocks(stream):
                    if cid not in wanted:
                        raise CidMismatch(f"IPFS node at {self.address} sent block {cid}, which is not in {root}")
                    wanted.discard(cid)
                    wanted.update(links_of(cid, block))
                    cache.put_block(cid, block)
        except _NodeRefused as refused:
            raise NotFound(f"IPFS node at {self.address} cannot export {root}: {refused.message}") from refused
        finally:
            cache.flush_index()

    # ---- CAR -----------------------------------------------------------------------------------------------

    def import_car(self, path: Path) -> list[str]:
        """`dag/import` a CAR file into the node; the roots it pinned."""
        with path.open("rb") as stream:
            answer = self._call("dag/import", {"pin-roots": "true"}, files={"file": (path.name, stream)})
        roots = []
        for doc in answer:
            root = doc.get("Root") if isinstance(doc, dict) else None
            if root:
                if root.get("PinErrorMsg"):
                    raise IpfsRefused(
                        f"IPFS node at {self.address} could not pin {root['Cid']['/']}: {root['PinErrorMsg']}",
                    )
                roots.append(str(root["Cid"]["/"]))
        return roots

    def export_car(self, cid: str, out: IO[bytes]) -> int:
        """`dag/export` the DAG under `cid` into `out`, streamed; the bytes written."""
        written = 0
        try:
            with (
                transport.map_transport_errors(self._target, f"dag/export {cid}"),
                closing(self._send("dag/export", {"arg": cid})) as response,
            ):
                for piece in response.iter_bytes():
                    out.write(piece)
                    written += len(piece)
        except _NodeRefused as refused:
            raise NotFound(f"IPFS node at {self.address} cannot export {cid}: {refused.message}") from refused
        return written


class _ChunkReader:
    """A readable stream over an iterator of byte strings (an HTTP response body), for the CAR reader."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


class _BackgroundWriter:
    """Puts blocks into the local cache on a thread, so local disk writes overlap the upload instead of pausing it
    (the upload is bound by the node; without this, publishing through a node ran at ~0.85x of the node's own add).
    At most `depth` blocks wait in memory."""

    def __init__(self, put_block: PutBlock, depth: int = 16) -> None:
        self._put_block = put_block
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=depth)
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="zkreg-cache-writer", daemon=True)
        self._thread.start()

    def put(self, cid: str, data: bytes) -> None:
        self.raise_error()
        self._queue.put((cid, data))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._put_block(*item)
                except Exception as exc:  # handed to the uploading thread, which raises it
                    self._error = exc

    def join(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def raise_error(self) -> None:
        if self._error is not None:
            raise self._error


class _NodeRefused(Exception):
    """The node answered with an error status; callers decide what that means (missing block, bad request)."""

    def __init__(self, command: str, message: str) -> None:
        super().__init__(f"{command}: {message}")
        self.message = message


_PLACEHOLDER_ROOT = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
"""Any CIDv1 sha2-256: its link encodes to as many header bytes as the real root's."""


def _discard(cid: str, data: bytes) -> None:
    del cid, data


def _quote(name: str) -> str:
    return name.replace("\\", "_").replace('"', "_").replace("\r", "_").replace("\n", "_")
