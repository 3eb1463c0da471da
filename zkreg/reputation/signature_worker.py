"""The child process of `zkreg.reputation.pipeline`: reads requests `[token, [[signer DID, payload, signature],
...]]` as DAG-CBOR on stdin and answers each with the token (8 bytes, big-endian) and one byte per item (1:
verifies, 0: does not) on stdout. It exits when its stdin closes, which includes its parent being killed."""

from __future__ import annotations

import sys

import cbor2

from zkreg.reputation.verify import signature_valid


def main() -> None:
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            token, items = cbor2.load(requests)
        except cbor2.CBORDecodeEOF:
            return
        verdicts = bytes(signature_valid(signer, payload, sig) for signer, payload, sig in items)
        answers.write(token.to_bytes(8, "big") + verdicts)
        answers.flush()


if __name__ == "__main__":
    main()
