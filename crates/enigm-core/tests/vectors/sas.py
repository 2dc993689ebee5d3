"""Independent cross-check of the fixed SAS vector in tests/sas.rs (python3 + cryptography)."""
import hmac, hashlib
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives import serialization as S
raw=lambda k: k.public_key().public_bytes(S.Encoding.Raw, S.PublicFormat.Raw)
H=lambda *p: hashlib.sha256(b''.join(p)).digest()
M=lambda k,*p: hmac.new(k,b''.join(p),hashlib.sha256).digest()
def hkdf_expand(prk, info, L):
    out=b'';t=b'';i=1
    while len(out)<L: t=M(prk,t,info,bytes([i])); out+=t; i+=1
    return out[:L]
new_sign=raw(Ed25519PrivateKey.from_private_bytes(bytes([0x11])*32))
new_agree=raw(X25519PrivateKey.from_private_bytes(bytes([0x22])*32))
old_sign=raw(Ed25519PrivateKey.from_private_bytes(bytes([0x33])*32))
old_id=H(b"enigm/device-id/v1",old_sign)[:16]
a_scalar=bytes(range(0,32)); b_scalar=bytes(range(32,64))
a=X25519PrivateKey.from_private_bytes(a_scalar); b=X25519PrivateKey.from_private_bytes(b_scalar)
a_eph=raw(a); b_eph=raw(b)
shared=a.exchange(X25519PrivateKey.from_private_bytes(b_scalar).public_key())
assert shared==b.exchange(a.public_key())
commit=H(b"enigm/sas/commit/v1",b_eph,new_sign,new_agree)
account=bytes.fromhex("00112233445566778899aabbccddeeff"); req=b"req-0001"
tr=b"enigm/sas/transcript/v1"+account+bytes([len(req)])+req+old_id+a_eph+new_sign+new_agree+b_eph+commit
th=H(tr)
prk=M(th,shared)
code=hkdf_expand(prk,b"enigm/sas/v1/short-code",14)
dec=int.from_bytes(code[:8],'big')%1000000
bits=int.from_bytes(code[8:14],'big')
emoji=[(bits>>(42-6*i))&63 for i in range(7)]
kex=hkdf_expand(prk,b"enigm/sas/v1/mac/existing-device",32)
knew=hkdf_expand(prk,b"enigm/sas/v1/mac/new-device",32)
seq=7; hh=bytes([0x55])*32
mac_ex=M(kex,b"enigm/sas/mac/existing-device/v1",old_sign,seq.to_bytes(8,'big'),hh)
mac_new=M(knew,b"enigm/sas/mac/new-device/v1",new_sign,new_agree)
for k,v in dict(new_sign=new_sign,new_agree=new_agree,old_sign=old_sign,old_id=old_id,a_eph=a_eph,b_eph=b_eph,shared=shared,commit=commit,transcript_hash=th,code=code,kex=kex,knew=knew,mac_ex=mac_ex,mac_new=mac_new).items(): print(k, v.hex())
print("decimal", dec, "emoji", emoji)
