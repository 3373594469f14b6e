# Python reference for dirnode packing, written from shared/specs/tahoe-formats.md §1.5/§5:
# sorted(NFC names) (code-point order), netstrings, json.dumps(metadata) with defaults, and
# child write caps as salt ‖ AES-CTR ‖ non-standard hmac. Input: JSON {"writekey": b64|null,
# "children": [[name, rw, ro_stored, metadata_json_text]]}. Output: base64 of the packed bytes,
# plus json round-trips and NFC results for the extra lists.
import base64, hashlib, json, sys, unicodedata
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

def ns(b): return str(len(b)).encode() + b":" + b + b","
def sha256d(b): return hashlib.sha256(hashlib.sha256(b).digest()).digest()
def th(tag, v, t=32): return sha256d(ns(tag) + v)[:t]
def tph(tag, a, b, t=32): return sha256d(ns(tag) + ns(a) + ns(b))[:t]
def hmac(key, data):
    inner = hashlib.sha256(bytes(c ^ 0x36 for c in key) + data).digest()
    return hashlib.sha256(bytes(c ^ 0x5c for c in key) + inner).digest()
def aes(key, data):
    c = Cipher(algorithms.AES(key), modes.CTR(b"\0" * 16)).encryptor()
    return c.update(data) + c.finalize()
def enc_rw(writekey, rw):
    salt = th(b"allmydata_dirnode_child_rwcap_to_salt_v1", rw, 16)
    key = tph(b"allmydata_mutable_writekey_and_salt_to_dirnode_child_capkey_v1", salt, writekey, 16)
    ct = aes(key, rw)
    return salt + ct + hmac(key, salt + ct)

req = json.load(sys.stdin)
out = {}
if "children" in req:
    wk = base64.b64decode(req["writekey"]) if req["writekey"] else None
    children = {}
    for name, rw, ro, md in req["children"]:
        children[unicodedata.normalize("NFC", name)] = (rw.encode(), ro.encode(), json.loads(md))
    entries = []
    for name in sorted(children):
        rw, ro, md = children[name]
        rwcap = ns(enc_rw(wk, rw)) if wk is not None else ns(b"")
        entries.append(ns(ns(name.encode("utf-8")) + ns(ro) + rwcap + ns(json.dumps(md).encode())))
    out["packed"] = base64.b64encode(b"".join(entries)).decode()
if "json" in req:
    res = []
    for text in req["json"]:
        try: res.append(json.dumps(json.loads(text)))
        except ValueError as e: res.append(None)
    out["json"] = res
if "floats" in req:
    out["floats"] = [json.dumps(float.fromhex(h)) for h in req["floats"]]
if "nfc" in req:
    out["nfc"] = [unicodedata.normalize("NFC", s) for s in req["nfc"]]
json.dump(out, sys.stdout)
