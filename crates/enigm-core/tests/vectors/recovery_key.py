"""Independent cross-check of the golden recovery key in tests/recovery.rs (python3 + cryptography)."""
import hmac, hashlib
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
def hkdf(salt, ikm, info, L=32):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm=b''; t=b''; i=1
    while len(okm)<L:
        t=hmac.new(prk, t+info+bytes([i]), hashlib.sha256).digest(); okm+=t; i+=1
    return okm[:L]
for ent in ["00"*32, "68a79eaca2324873eacc50cb9c6eca8cc68ea5d936f98787c60c7ebc74e6ce7c"]:
    seed = hkdf(b"enigm/recovery-phrase/v1", bytes.fromhex(ent), b"enigm/recovery-key/v1")
    sk = Ed25519PrivateKey.from_private_bytes(seed)
    pub = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    sig = sk.sign(b"enigm/test")
    print(ent, seed.hex(), pub.hex(), sig.hex())
