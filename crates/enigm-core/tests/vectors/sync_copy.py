"""The fixed vector of a signed sync-key copy (enigm-core's sync_copy.rs, test
`fixed_vector`), computed independently of the Rust code with Python 3 and the
`cryptography` package: the signed message by hand, the signature by RFC 8032 Ed25519.
Run: python3 sync_copy.py"""

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

key = Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)
public = key.public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw
)
signer = hashlib.sha256(b"enigm/device-id/v1" + public).digest()[:16]
account = b"\xa5" * 16
epoch = (3).to_bytes(8, "big")
recipient = b"\x44" * 16
# version 1, epoch 3, recipient, ephemeral key 32 x 0x55, ciphertext 48 x 0x66
sealed = b"\x01" + epoch + recipient + b"\x55" * 32 + b"\x66" * 48
head_seq, head_hash = (2).to_bytes(8, "big"), b"\x77" * 32
message = (
    b"enigm/sync-key/copy/v1"
    + account
    + epoch
    + head_seq
    + head_hash
    + recipient
    + signer
    + sealed
)
print("signer   ", signer.hex())
print("signature", key.sign(message).hex())
