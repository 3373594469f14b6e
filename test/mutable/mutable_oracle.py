# An independent reader of SDMF/MDMF shares, written in Python from the struct formats of
# shared/specs/tahoe-formats.md §4 (">BQ32s16sBBQQ LLLLQQ", ">BQ32sBBQQ QQQQQQQQ",
# ">H32s" chain entries), with python3-cryptography (RSA-PSS, AES-CTR) and python3-zfec.
# Input (stdin, JSON): {"fingerprint": b64, "readkey": b64, "writekey": b64, "shares": {shnum: b64}}
# Output (stdout, JSON): per share the parsed fields, then the decoded plaintext.
import base64, hashlib, json, struct, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
import zfec

def ns(b): return str(len(b)).encode() + b":" + b + b","
def sha256d(b): return hashlib.sha256(hashlib.sha256(b).digest()).digest()
def th(tag, v, t=32): return sha256d(ns(tag) + v)[:t]
def tph(tag, a, b, t=32): return sha256d(ns(tag) + ns(a) + ns(b))[:t]
def aes(key, data): 
    c = Cipher(algorithms.AES(key), modes.CTR(b"\0" * 16)).encryptor()
    return c.update(data) + c.finalize()
def pow2(x):
    p = 1
    while p < x: p *= 2
    return p
def tree(leaves):
    w = pow2(len(leaves))
    row = list(leaves) + [th(b"Merkle tree empty leaf", b"%d" % i) for i in range(len(leaves), w)]
    rows = [row]
    while len(rows[-1]) > 1:
        r = rows[-1]
        rows.append([tph(b"Merkle tree internal node", r[2*i], r[2*i+1]) for i in range(len(r)//2)])
    out = []
    for r in reversed(rows): out += r
    return out

req = json.load(sys.stdin)
fp = base64.b64decode(req["fingerprint"]); readkey = base64.b64decode(req["readkey"]); writekey = base64.b64decode(req["writekey"])
result = {"shares": {}}
parsed = {}
checked = set()
for shnum, b64 in req["shares"].items():
    d = base64.b64decode(b64); shnum = int(shnum)
    if d[0] == 0:
        (ver, seq, root, iv, k, n, segsize, datalen, o_sig, o_chain, o_bht, o_data, o_priv, o_eof) = struct.unpack(">BQ32s16sBBQQLLLLQQ", d[:107])
        vk = d[107:o_sig]; sig = d[o_sig:o_chain]; chain_s = d[o_chain:o_bht]; bht_s = d[o_bht:o_data]; data = d[o_data:o_priv]; priv = d[o_priv:o_eof]
        signed = d[:75]; check = d[:57]
    else:
        (ver, seq, root, k, n, segsize, datalen, o_priv, o_chain, o_sig, o_vk, o_vkend, o_data, o_bht, o_eof) = struct.unpack(">BQ32sBBQQQQQQQQQQ", d[:123])
        vk = d[o_vk:o_vkend]; sig = d[o_sig:o_vk]; chain_s = d[o_chain:o_sig]; bht_s = d[o_bht:o_eof]; data = d[o_data:o_bht]; priv = d[o_priv:o_chain]
        signed = d[:59]; check = d[:41]; iv = None
        gap = d[o_vkend:o_data]
        assert gap == b"\0" * len(gap), "MDMF gap not zero"
        assert o_data == 2167 and o_priv == 123
    assert o_eof == len(d), (o_eof, len(d))
    assert th(b"allmydata_mutable_pubkey_to_fingerprint_v1", vk) == fp, "fingerprint"
    # Shares of one version carry identical key material: check each distinct value once
    # (loading an RSA private key with validation is slow).
    if (vk, sig, signed) not in checked:
        pub = serialization.load_der_public_key(vk)
        pub.verify(sig, signed, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        checked.add((vk, sig, signed))
    if priv not in checked:
        privder = aes(writekey, priv)
        assert th(b"allmydata_mutable_privkey_to_writekey_v1", privder, 16) == writekey, "privkey"
        serialization.load_der_private_key(privder, password=None)
        checked.add(priv)
    chain = dict(struct.unpack(">H32s", chain_s[i:i+34]) for i in range(0, len(chain_s), 34))
    bht = [bht_s[i:i+32] for i in range(0, len(bht_s), 32)]
    parsed[shnum] = dict(ver=ver, seq=seq, root=root, iv=iv, k=k, n=n, segsize=segsize, datalen=datalen, chain=chain, bht=bht, data=data)
    result["shares"][shnum] = {"version": ver, "seqnum": seq, "k": k, "n": n, "segsize": segsize, "datalen": datalen,
        "chainNodes": sorted(chain.keys()), "chainOrder": [struct.unpack(">H", chain_s[i:i+2])[0] for i in range(0, len(chain_s), 34)],
        "bhtNodes": len(bht), "checkstring": base64.b64encode(check).decode()}

# share hash tree from all shares' block-tree roots, and each chain must be a subset of it
any_ = next(iter(parsed.values()))
k, n, segsize, datalen, root = any_["k"], any_["n"], any_["segsize"], any_["datalen"], any_["root"]
if len(parsed) == n:
    st = tree([parsed[i]["bht"][0] for i in range(n)])
    assert st[0] == root, "root hash"
    for i in range(n):
        for node, h in parsed[i]["chain"].items(): assert st[node] == h, ("chain", i, node)
mdmf = any_["ver"] == 1
nsegs = 0 if datalen == 0 else (1 if not mdmf else -(-datalen // segsize))
bs = -(-segsize // k) if segsize else 0
plain = b""
use = sorted(parsed)[:k]
for s in range(nsegs):
    seglen = segsize if s < nsegs - 1 else datalen - (nsegs - 1) * segsize
    blen = bs if s < nsegs - 1 else -(-seglen // k)
    blocks = []
    for i in use:
        p = parsed[i]
        if mdmf:
            start = s * (bs + 16); sb = p["data"][start:start + 16 + blen]; salt, blk = sb[:16], sb[16:]
            leaf = th(b"allmydata_encoded_subshare_v1", sb)
        else:
            salt, blk = p["iv"], p["data"]; leaf = th(b"allmydata_encoded_subshare_v1", blk)
        bt = tree(p["bht"][len(p["bht"]) // 2:][:nsegs])
        assert bt == p["bht"], "block tree"
        assert p["bht"][len(p["bht"]) // 2 + s] == leaf, ("block hash", i, s)
        blocks.append(blk)
    pieces = zfec.Decoder(k, n).decode(blocks, use)
    ct = b"".join(pieces)[:seglen]
    plain += aes(tph(b"allmydata_mutable_readkey_to_datakey_v1", salt, readkey, 16), ct)
result["plaintext"] = base64.b64encode(plain).decode()
json.dump(result, sys.stdout)
