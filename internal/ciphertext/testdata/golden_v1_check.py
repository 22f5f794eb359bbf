#!/usr/bin/env python3
"""Independent check of golden_v1.json with Python's hmac and pyca/cryptography.

Run from internal/ciphertext: python3 testdata/golden_v1_check.py
Prints one "ok" per vector; exits 1 on any mismatch.
"""
import hashlib, hmac, json, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

def uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])

def encode_context(ec):
    ec = ec or {}
    out = uvarint(len(ec))
    for k in sorted(ec, key=lambda s: s.encode()):
        kb, vb = k.encode(), ec[k].encode()
        out += uvarint(len(kb)) + kb + uvarint(len(vb)) + vb
    return out

bad = 0
for v in json.load(open("testdata/golden_v1.json")):
    kid = v["key_id"]
    kraw = b"\x01" + bytes.fromhex(kid[4:]) if kid.startswith("mrk-") else b"\x00" + bytes.fromhex(kid.replace("-", ""))
    rnd = bytes.fromhex(v["random"])  # N (16) then IV (12)
    header = b"\x01" + kraw + bytes.fromhex(v["material_id"]) + rnd
    fixed = (1).to_bytes(4, "big") + b"trent symmetric v1" + b"\x00" + header + (256).to_bytes(4, "big")
    k = hmac.new(bytes.fromhex(v["material"]), fixed, hashlib.sha256).digest()
    body = AESGCM(k).encrypt(rnd[16:], bytes.fromhex(v["plaintext"]), header + encode_context(v["context"]))
    ok = (header + body).hex() == v["blob"]
    bad += not ok
    print("ok" if ok else "MISMATCH", v["comment"])
sys.exit(1 if bad else 0)
