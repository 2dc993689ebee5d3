#!/usr/bin/env python3
"""Independent check of ledger_golden.json, sharing no code with the Rust implementation.

For every entry: hash == SHA-256(encoding); the encoding starts with its version (1, or 2 for
an entry dated by its signer), the big-endian seq and the previous entry's hash, then for
version 2 the big-endian signed_at the vector names; the unsigned bytes are a prefix of the
encoding; and every signature verifies (Ed25519, python `cryptography`) over
"enigm/ledger/v1" || account_id || unsigned, under the key the entry or the history names.
Run: python3 crates/enigm-core/tests/vectors/ledger_golden_check.py [FILE]
(ledger_golden.json by default; ledger_golden_dated.json for the dated vectors).
"""
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HERE = os.path.dirname(os.path.abspath(__file__))
golden = json.load(open(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "ledger_golden.json")))
account = bytes.fromhex(golden["account_id"])


def pub(seed_byte):
    key = Ed25519PrivateKey.from_private_bytes(bytes([seed_byte]) * 32)
    return key.public_key().public_bytes_raw()


def device_id(signing_pub):
    return hashlib.sha256(b"enigm/device-id/v1" + signing_pub).digest()[:16]


# Device n's signing seed is [n; 32] (DeviceSecrets::from_bytes([n; 64])).
keys_by_id = {device_id(pub(n)): pub(n) for n in range(1, 10)}
roles = {1: pub(0x71), 2: pub(0x73), 3: pub(0x72)}  # recovery, organization, new recovery

prev = bytes(32)
checked = 0
for entry in golden["entries"]:
    enc = bytes.fromhex(entry["encoding"])
    unsigned = bytes.fromhex(entry["unsigned"])
    assert hashlib.sha256(enc).hexdigest() == entry["hash"], entry["seq"]
    assert enc.startswith(unsigned)
    assert int.from_bytes(enc[1:9], "big") == entry["seq"]
    assert enc[9:41] == prev, entry["seq"]
    if "signed_at" in entry:
        assert enc[0] == 2, entry["seq"]
        assert int.from_bytes(enc[41:49], "big") == entry["signed_at"], entry["seq"]
    else:
        assert enc[0] == 1, entry["seq"]
    prev = bytes.fromhex(entry["hash"])
    message = b"enigm/ledger/v1" + account + unsigned
    rest = enc[len(unsigned):]
    count, rest = rest[0], rest[1:]
    for _ in range(count):
        tag, rest = rest[0], rest[1:]
        if tag == 0:
            key, rest = keys_by_id[rest[:16]], rest[16:]
        else:
            key = roles[tag]
        signature, rest = rest[:64], rest[64:]
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
        checked += 1
    assert rest == b"", entry["seq"]
    if entry["kind"] == "RotateRecovery":
        roles[1] = roles[3]  # the rotated-in key signs later recoveries
assert golden["head"]["hash"] == golden["entries"][-1]["hash"]
print(f"ok: {len(golden['entries'])} entries, {checked} signatures")
sys.exit(0)
