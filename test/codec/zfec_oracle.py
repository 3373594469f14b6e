"""Long-lived oracle around Debian's python3-zfec, driven by test/codec/zfec-oracle.ts.

Framing, both directions: 4-byte big-endian header length, a JSON header, then
header["payload"] bytes. Requests:
  {"op": "encode", "k", "n", "size", "shares"?}        payload: k pieces of `size` bytes
  {"op": "decode", "k", "n", "size", "shares"}         payload: k blocks, in `shares` order
  {"op": "bench-encode", ..., "iterations"}            like encode; replies with timings only
  {"op": "bench-decode", ..., "iterations"}            like decode; replies with timings only
Replies: {"ok": true, "payload": N, "seconds"?: [...], "cpu_seconds"?: [...]} or
{"ok": false, "error": "..."}. Timings (wall clock and process CPU time) are taken inside
python around the zfec call alone, so IPC is excluded.
"""
import json
import struct
import sys
import time
import traceback

import zfec

source = sys.stdin.buffer
sink = sys.stdout.buffer


def read_exact(count):
    chunks = []
    while count > 0:
        chunk = source.read(count)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def reply(header, payload=b""):
    header["payload"] = len(payload)
    encoded = json.dumps(header).encode()
    sink.write(struct.pack(">I", len(encoded)) + encoded)
    sink.write(payload)
    sink.flush()


def split(payload, count, size):
    return tuple(payload[i * size:(i + 1) * size] for i in range(count))


def handle(request, payload):
    op, k, n, size = request["op"], request["k"], request["n"], request["size"]
    shares = request.get("shares")
    if op in ("encode", "bench-encode"):
        pieces = split(payload, k, size)
        encoder = zfec.Encoder(k, n)
        wanted = tuple(shares) if shares is not None else None
        def run():
            return encoder.encode(pieces, wanted) if wanted is not None else encoder.encode(pieces)
    elif op in ("decode", "bench-decode"):
        blocks = split(payload, k, size)
        decoder = zfec.Decoder(k, n)
        numbers = tuple(shares)
        def run():
            return decoder.decode(blocks, numbers)
    else:
        raise ValueError("unknown op " + repr(op))
    if op.startswith("bench-"):
        seconds, cpu_seconds = [], []
        for _ in range(request["iterations"]):
            cpu_started = time.process_time()
            started = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - started)
            cpu_seconds.append(time.process_time() - cpu_started)
        reply({"ok": True, "seconds": seconds, "cpu_seconds": cpu_seconds})
    else:
        reply({"ok": True}, b"".join(bytes(b) for b in run()))


def main():
    while True:
        try:
            length = struct.unpack(">I", read_exact(4))[0]
        except EOFError:
            return
        request = json.loads(read_exact(length))
        payload = read_exact(request.get("payload", 0))
        try:
            handle(request, payload)
        except Exception:
            reply({"ok": False, "error": traceback.format_exc()})


main()
