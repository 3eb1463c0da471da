"""Unsigned LEB128 varints, as protobuf (dag-pb), CAR sections and multiformats use them.

Decoding follows the multiformats rules: at most 9 bytes and minimal (no trailing zero group), so one number has
one encoding. It reads in place from bytes or a memoryview: it runs once per block, and
`multiformats.varint.decode_raw`'s runtime type checks cost a third of a sync.
"""

from __future__ import annotations

from zkreg.errors import MalformedObject

MAX_BYTES = 9


def encode(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode(data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int]:
    """The varint at `offset` and the offset just after it."""
    value = shift = 0
    for position in range(offset, min(offset + MAX_BYTES, len(data))):
        byte = data[position]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if byte == 0 and position > offset:
                raise MalformedObject(f"varint at byte {offset} is not minimal")
            return value, position + 1
        shift += 7
    if len(data) - offset < MAX_BYTES:
        raise MalformedObject(f"varint at byte {offset} is truncated")
    raise MalformedObject(f"varint at byte {offset} is longer than {MAX_BYTES} bytes")
