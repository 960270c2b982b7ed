"""Content identifiers (CIDs) exactly as kubo's `ipfs add` computes them, without a node.

`cid_of_bytes(data)` answers what `ipfs add --cid-version 1` prints for the same bytes: kubo's
defaults for CID version 1 are a fixed-size chunker of 262,144 bytes, raw leaves, sha2-256 and
a *balanced* DAG whose nodes hold at most 174 links. A file of one chunk is that chunk as a raw
block (`bafkrei…`); a longer file gets dag-pb inner nodes (`bafybei…`) carrying UnixFS `File`
data (total size and each child's size), each link carrying the child's cumulative size.

The balanced layout follows boxo's `importer/balanced`: the first leaf is the root until a
second chunk arrives; whenever a root is full it becomes the first child of a new root one
level deeper, and the new root is filled with sub-DAGs of the old depth.

Protobuf is written by hand (it is a few bytes): dag-pb puts the Links (field 2) before the
Data (field 1) on the wire, and UnixFS fields appear in field-number order; kubo writes an
empty link name. `ImportParams` also covers CIDv0 and non-raw leaves, which the tests use to
check the layout against kubo's published CIDv0 vectors.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

DEFAULT_CHUNK_SIZE = 262_144
DEFAULT_MAX_LINKS = 174

CODEC_RAW = 0x55
CODEC_DAG_PB = 0x70
MULTIHASH_SHA2_256 = 0x12
UNIXFS_FILE = 2

_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

BlockSink = Callable[[bytes, bytes], None]
"""Called with (binary CID, block bytes) for every block, e.g. to write a CAR file."""


@dataclass(frozen=True)
class ImportParams:
    """How a file is cut into blocks; the defaults are kubo's for `--cid-version 1`."""

    chunk_size: int = DEFAULT_CHUNK_SIZE
    max_links: int = DEFAULT_MAX_LINKS
    cid_version: int = 1
    raw_leaves: bool = True

    def __post_init__(self) -> None:
        if self.chunk_size < 1 or self.max_links < 2 or self.cid_version not in (0, 1):
            raise ValueError("invalid import parameters")
        if self.cid_version == 0 and self.raw_leaves:
            raise ValueError("CIDv0 cannot address raw leaves")


KUBO_CID_V1 = ImportParams()
KUBO_CID_V0 = ImportParams(cid_version=0, raw_leaves=False)


@dataclass(frozen=True)
class _Node:
    """A finished block as its parent sees it: CID, cumulative size, file bytes below it."""

    cid: bytes
    tsize: int
    filesize: int


def varint(value: int) -> bytes:
    """Unsigned LEB128, as protobuf and multiformats use it."""
    if value < 0:
        raise ValueError("varint must be non-negative")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def _field_bytes(number: int, value: bytes) -> bytes:
    return varint((number << 3) | 2) + varint(len(value)) + value


def unixfs_file_data(filesize: int, data: bytes | None, blocksizes: Iterable[int]) -> bytes:
    """A UnixFS `Data` message of type File (fields Type=1, Data=2, filesize=3, blocksizes=4)."""
    out = _field_varint(1, UNIXFS_FILE)
    if data is not None:
        out += _field_bytes(2, data)
    out += _field_varint(3, filesize)
    for size in blocksizes:
        out += _field_varint(4, size)
    return out


def dag_pb_node(links: Iterable[tuple[bytes, int]], data: bytes) -> bytes:
    """A dag-pb PBNode: each link (CID, Tsize) with an empty name, then the data."""
    out = b""
    for cid, tsize in links:
        link = _field_bytes(1, cid) + _field_bytes(2, b"") + _field_varint(3, tsize)
        out += _field_bytes(2, link)
    return out + _field_bytes(1, data)


def _multihash(block: bytes) -> bytes:
    return bytes((MULTIHASH_SHA2_256, 32)) + hashlib.sha256(block).digest()


def block_cid(block: bytes, codec: int, version: int = 1) -> bytes:
    """The binary CID of a block (CIDv0 is the bare multihash and implies dag-pb)."""
    if version == 0:
        return _multihash(block)
    return varint(1) + varint(codec) + _multihash(block)


def cid_to_text(cid: bytes) -> str:
    """Text form: base58btc for CIDv0 (`Qm…`), base32 lower-case multibase `b…` for CIDv1."""
    if cid[:2] == bytes((MULTIHASH_SHA2_256, 32)) and len(cid) == 34:
        return _base58btc(cid)
    return "b" + base64.b32encode(cid).decode("ascii").lower().rstrip("=")


def _base58btc(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    digits = ""
    while number:
        number, rem = divmod(number, 58)
        digits = _BASE58_ALPHABET[rem] + digits
    leading = len(raw) - len(raw.lstrip(b"\0"))
    return "1" * leading + digits


class _Builder:
    """Builds the balanced DAG from a stream of chunks, keeping only one path in memory."""

    def __init__(self, chunks: Iterator[bytes], params: ImportParams, sink: BlockSink | None):
        self._chunks = chunks
        self._params = params
        self._sink = sink
        self._next: bytes | None = next(chunks, None)

    def done(self) -> bool:
        """True once every chunk has been consumed."""
        return self._next is None

    def _take(self) -> bytes:
        chunk = self._next if self._next is not None else b""
        self._next = next(self._chunks, None)
        return chunk

    def _emit(self, block: bytes, codec: int) -> bytes:
        cid = block_cid(block, codec, self._params.cid_version)
        if self._sink is not None:
            self._sink(cid, block)
        return cid

    def leaf(self) -> _Node:
        """The next chunk as a leaf: a raw block, or a dag-pb node holding UnixFS file data."""
        chunk = self._take()
        if self._params.raw_leaves:
            return _Node(self._emit(chunk, CODEC_RAW), len(chunk), len(chunk))
        # kubo leaves the Data field out for an empty file
        block = dag_pb_node((), unixfs_file_data(len(chunk), chunk or None, ()))
        return _Node(self._emit(block, CODEC_DAG_PB), len(block), len(chunk))

    def inner(self, children: list[_Node]) -> _Node:
        """A dag-pb node over `children`, with their file sizes as UnixFS blocksizes."""
        filesize = sum(child.filesize for child in children)
        data = unixfs_file_data(filesize, None, (child.filesize for child in children))
        block = dag_pb_node(((c.cid, c.tsize) for c in children), data)
        tsize = len(block) + sum(child.tsize for child in children)
        return _Node(self._emit(block, CODEC_DAG_PB), tsize, filesize)

    def fill(self, children: list[_Node], depth: int) -> _Node:
        """Add sub-DAGs of `depth - 1` (leaves at depth 1) until full or out of data."""
        while len(children) < self._params.max_links and not self.done():
            children.append(self.leaf() if depth == 1 else self.fill([], depth - 1))
        return self.inner(children)

    def build(self) -> _Node:
        """The root: grow one level each time the current root is full."""
        root = self.leaf()
        depth = 1
        while not self.done():
            root = self.fill([root], depth)
            depth += 1
        return root


def _split(data: bytes, chunk_size: int) -> Iterator[bytes]:
    for start in range(0, len(data), chunk_size):
        yield data[start : start + chunk_size]


def _read_chunks(stream: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    while True:
        chunk = b""
        while len(chunk) < chunk_size:  # a short read is not the end of the stream
            more = stream.read(chunk_size - len(chunk))
            if not more:
                break
            chunk += more
        if not chunk:
            return
        yield chunk
        if len(chunk) < chunk_size:
            return


def cid_of_chunks(
    chunks: Iterable[bytes], params: ImportParams = KUBO_CID_V1, sink: BlockSink | None = None
) -> str:
    """The CID of a file given as fixed-size chunks (every chunk full except the last)."""
    return cid_to_text(_Builder(iter(chunks), params, sink).build().cid)


def cid_of_bytes(
    data: bytes, params: ImportParams = KUBO_CID_V1, sink: BlockSink | None = None
) -> str:
    """What `ipfs add --cid-version 1` prints for `data` (or for `params`' settings)."""
    return cid_of_chunks(_split(data, params.chunk_size), params, sink)


def cid_of_stream(
    stream: BinaryIO, params: ImportParams = KUBO_CID_V1, sink: BlockSink | None = None
) -> str:
    """Like `cid_of_bytes`, reading the file in chunks so memory stays at one chunk."""
    return cid_of_chunks(_read_chunks(stream, params.chunk_size), params, sink)
