"""Ed25519 identities (PyNaCl), named as did:key, and signing of bytes.

The key file holds the 32-byte seed, either in the clear or sealed with a passphrase (Argon2id via
`nacl.pwhash`, then `SecretBox`). It is created with mode 0600 and never rewritten in place.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import bases
import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.signing
import nacl.utils

from zkreg.errors import (
    BadDid,
    BadPassphrase,
    BadSignature,
    IdentityDamaged,
    IdentityExists,
    IdentityNotFound,
    IdentityUnreadable,
    PassphraseRequired,
)
from zkreg.fsutil import atomic_write

_ED25519_PUB_MULTICODEC = b"\xed\x01"
_DID_PREFIX = "did:key:z"
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
KEY_FILE = "identity.json"
_SEED_BYTES = 32


def _b58encode(data: bytes) -> str:
    return str(bases.base58btc.encode(data))


_B58_DIGITS = {char: value for value, char in enumerate(_B58_ALPHABET)}


def _b58decode(text: str) -> bytes:
    """Base58btc by integer arithmetic: ~10x faster than `bases`, whose decoder made the first sight of each
    identity cost more than verifying its signatures (an import of 10k feeds). Leading "1"s are zero bytes."""
    number = 0
    for char in text:
        number = number * 58 + _B58_DIGITS[char]
    zeros = len(text) - len(text.lstrip("1"))
    return bytes(zeros) + number.to_bytes((number.bit_length() + 7) // 8, "big")


def did_from_public_key(public_key: bytes) -> str:
    return _DID_PREFIX + _b58encode(_ED25519_PUB_MULTICODEC + public_key)


def public_key_from_did(did: str) -> bytes:
    """The raw Ed25519 key of a `did:key:z6Mk...`; an input error for anything else."""
    if not did.startswith(_DID_PREFIX) or any(ch not in _B58_ALPHABET for ch in did[len(_DID_PREFIX) :]):
        raise BadDid(f"not an Ed25519 did:key: {did!r}")
    decoded = _b58decode(did[len(_DID_PREFIX) :])
    if decoded[:2] != _ED25519_PUB_MULTICODEC or len(decoded) != 34:
        raise BadDid(f"not an Ed25519 did:key: {did!r}")
    return decoded[2:]


def verify_signature(did: str, message: bytes, signature: bytes) -> None:
    """Raise `BadSignature` unless `signature` is `did`'s Ed25519 signature of `message`."""
    try:
        nacl.signing.VerifyKey(public_key_from_did(did)).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, TypeError) as exc:
        raise BadSignature(f"signature does not verify for {did}") from exc


@dataclass(frozen=True)
class Identity:
    signing_key: nacl.signing.SigningKey

    @property
    def public_key(self) -> bytes:
        return bytes(self.signing_key.verify_key)

    @cached_property
    def did(self) -> str:
        """Computed once: base58 through `bases` costs ~2 ms, and every appended entry names its author."""
        return did_from_public_key(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return bytes(self.signing_key.sign(message).signature)


def _seal(seed: bytes, passphrase: str) -> dict[str, object]:
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    ops, mem = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
    key = nacl.pwhash.argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, passphrase.encode(), salt, ops, mem)
    sealed = nacl.secret.SecretBox(key).encrypt(seed)
    return {
        "encryption": "argon2id+xsalsa20poly1305",
        "salt": base64.b64encode(salt).decode(),
        "opslimit": ops,
        "memlimit": mem,
        "seed": base64.b64encode(bytes(sealed)).decode(),
    }


def _unseal(record: dict[str, object], passphrase: str | None) -> bytes:
    if passphrase is None:
        raise PassphraseRequired("the identity key is encrypted", hint="set ZKREG_PASSPHRASE")
    salt = _b64_field(record, "salt")
    ops, mem = record.get("opslimit"), record.get("memlimit")
    if not isinstance(ops, int) or not isinstance(mem, int):
        raise _DamagedKeyFile("opslimit and memlimit must be integers")
    try:
        key = nacl.pwhash.argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, passphrase.encode(), salt, ops, mem)
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise _DamagedKeyFile(f"bad key derivation parameters ({exc})") from exc
    try:
        return bytes(nacl.secret.SecretBox(key).decrypt(_b64_field(record, "seed")))
    except nacl.exceptions.CryptoError as exc:
        raise BadPassphrase("wrong passphrase for the identity key") from exc


class _DamagedKeyFile(Exception):
    """What is wrong with the key file; `load_identity` turns it into one `identity/damaged` error naming it."""


def _b64_field(record: dict[str, object], name: str) -> bytes:
    value = record.get(name)
    if not isinstance(value, str):
        raise _DamagedKeyFile(f"{name!r} is missing or not a string")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise _DamagedKeyFile(f"{name!r} is not base64") from exc


def create_identity(home: Path, passphrase: str | None) -> Identity:
    """Write a fresh key to `home/identity.json` (0600, exclusive create); refuse to replace an existing one."""
    home.mkdir(parents=True, exist_ok=True)
    signing_key = nacl.signing.SigningKey.generate()
    seed = bytes(signing_key)
    record: dict[str, object] = {"type": "ed25519", "did": did_from_public_key(bytes(signing_key.verify_key))}
    if passphrase:
        record.update(_seal(seed, passphrase))
    else:
        record.update({"encryption": "none", "seed": base64.b64encode(seed).decode()})
    path = home / KEY_FILE
    try:  # exclusive: fails if an identity appeared meanwhile, never overwrites a key
        atomic_write(path, json.dumps(record, indent=2).encode(), exclusive=True, mode=0o600)
    except FileExistsError as exc:
        raise IdentityExists(f"an identity already exists in {home}") from exc
    return Identity(signing_key)


def load_identity(home: Path, passphrase: str | None) -> Identity:
    """The identity in `home/identity.json`; a damaged file (not JSON, wrong fields or types, a seed of the wrong
    length, a key that is not the recorded did) is one `identity/damaged` error naming the file."""
    path = home / KEY_FILE
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise IdentityNotFound(f"no identity in {home}", hint="run `zkreg init` (or set ZKREG_HOME)") from exc
    except OSError as exc:
        raise IdentityUnreadable(f"cannot read identity key {path}: {exc}") from exc
    try:
        identity = _parse_key_file(text, passphrase)
    except _DamagedKeyFile as exc:
        raise IdentityDamaged(
            f"identity key file {path} is damaged: {exc}",
            hint="restore it from a backup (or move it away and run `zkreg init` for a new identity)",
        ) from exc
    return identity


def _parse_key_file(text: str, passphrase: str | None) -> Identity:
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise _DamagedKeyFile("not JSON") from exc
    if not isinstance(record, dict):
        raise _DamagedKeyFile("not a JSON object")
    if record.get("type") != "ed25519":
        raise _DamagedKeyFile(f"type is {record.get('type')!r}, not 'ed25519'")
    encryption = record.get("encryption")
    if encryption == "none":
        seed = _b64_field(record, "seed")
    elif encryption == "argon2id+xsalsa20poly1305":
        seed = _unseal(record, passphrase)
    else:
        raise _DamagedKeyFile(f"unknown encryption {encryption!r}")
    if len(seed) != _SEED_BYTES:
        raise _DamagedKeyFile(f"the seed is {len(seed)} bytes, not 32")
    identity = Identity(nacl.signing.SigningKey(seed))
    if record.get("did") not in (None, identity.did):
        raise _DamagedKeyFile("the key is not the one its 'did' names")
    return identity
