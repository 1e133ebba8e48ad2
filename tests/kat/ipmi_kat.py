#!/usr/bin/env python3
"""Known answers for fencebox's RMCP+ cryptography, computed independently of fencebox:
Python's hmac/hashlib for the key exchange, the session keys and integrity codes, and the
openssl command for AES-CBC-128. The derivations follow the IPMI 2.0 specification
(sections 13.28-13.31); the inputs are fixed so the Rust side can recompute them.

Prints one JSON object: {suite: {name: hex, ...}, ...}."""
import hashlib
import hmac
import json
import struct
import subprocess

CONSOLE_SID = 0xA0A2A3A4
BMC_SID = 0x00007882
CONSOLE_RAND = bytes(range(0x00, 0x10))
BMC_RAND = bytes(range(0x10, 0x20))
GUID = bytes(range(0x20, 0x30))
ROLE = 0x14
USER = b"admin"
PASSWORD = b"password"
KG = bytes.fromhex("c0ffee00112233445566778899aabbccddeeff01")
IV = bytes([0x11] * 16)
# Get Chassis Status, rqSeq 5: the IPMI message a session packet carries.
MESSAGE = bytes([0x20, 0x00, 0xE0, 0x81, 0x14, 0x01, 0x6A])
SEQ = 7

# suite: (hash of RAKP, integrity: (hash, truncation) or None, AES or not)
SUITES = {
    1: (hashlib.sha1, None, False),
    2: (hashlib.sha1, (hashlib.sha1, 12), False),
    3: (hashlib.sha1, (hashlib.sha1, 12), True),
    17: (hashlib.sha256, (hashlib.sha256, 16), True),
}
RAKP4_LEN = {hashlib.sha1: 12, hashlib.sha256: 16}


def mac(key, data, h):
    return hmac.new(key, data, h).digest()


def aes_cbc(key16, iv, plain):
    out = subprocess.run(
        ["openssl", "enc", "-aes-128-cbc", "-nopad", "-K", key16.hex(), "-iv", iv.hex()],
        input=plain, capture_output=True, check=True)
    return out.stdout


def answers(suite, kg):
    h, integ, aes = SUITES[suite]
    le = lambda v: struct.pack("<I", v)
    tail = bytes([ROLE, len(USER)]) + USER
    rakp2 = mac(PASSWORD, le(CONSOLE_SID) + le(BMC_SID) + CONSOLE_RAND + BMC_RAND + GUID + tail, h)
    rakp3 = mac(PASSWORD, BMC_RAND + le(CONSOLE_SID) + tail, h)
    sik = mac(kg or PASSWORD, CONSOLE_RAND + BMC_RAND + tail, h)
    # Const 1 and Const 2 are 20 bytes whatever the hash (IPMI 2.0 section 13.32).
    k1 = mac(sik, b"\x01" * 20, h)
    k2 = mac(sik, b"\x02" * 20, h)
    rakp4 = mac(sik, CONSOLE_RAND + le(BMC_SID) + GUID, h)[: RAKP4_LEN[h]]
    r = {"rakp2": rakp2, "rakp3": rakp3, "sik": sik, "k1": k1, "k2": k2, "rakp4": rakp4}
    payload = MESSAGE
    if aes:
        pad = (16 - (len(MESSAGE) + 1) % 16) % 16
        plain = MESSAGE + bytes(range(1, pad + 1)) + bytes([pad])
        payload = IV + aes_cbc(k2[:16], IV, plain)
        r["aes"] = payload
    ptype = 0x00 | (0x80 if aes else 0) | (0x40 if integ else 0)
    packet = bytes([0x06, 0x00, 0xFF, 0x07, 0x06, ptype]) + le(BMC_SID) + le(SEQ)
    packet += struct.pack("<H", len(payload)) + payload
    if integ:
        covered_len = len(packet) - 4 + 2
        pad = (4 - covered_len % 4) % 4
        packet += b"\xff" * pad + bytes([pad, 0x07])
        ih, cut = integ
        packet += mac(k1, packet[4:], ih)[:cut]
    r["packet"] = packet
    return {k: v.hex() for k, v in r.items()}


out = {str(s): answers(s, None) for s in SUITES}
out["3-kg"] = answers(3, KG)
print(json.dumps(out, indent=1))
