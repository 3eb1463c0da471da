"""The child process of `zkreg.reputation.pipeline`: reads requests from stdin, each its length (8 bytes,
big-endian) and the DAG-CBOR `[token, [[signer DID, payload, signature], ...]]`, and answers each on stdout with the
token (8 bytes, big-endian) and one byte per item (1: verifies, 0: does not). It exits when its stdin closes,
which includes its parent being killed."""

from __future__ import annotations

import sys

import cbor2

from zkreg.reputation.verify import signature_valid


def main() -> None:
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    while len(header := requests.read(8)) == 8:
        token, items = cbor2.loads(requests.read(int.from_bytes(header, "big")))
        verdicts = bytes(signature_valid(signer, payload, sig) for signer, payload, sig in items)
        answers.write(token.to_bytes(8, "big") + verdicts)
        answers.flush()


if __name__ == "__main__":
    main()
