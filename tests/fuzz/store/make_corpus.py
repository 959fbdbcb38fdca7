#!/usr/bin/env python3
"""Writes seed inputs for store_recovery_fuzz into tests/fuzz/corpus/store_recovery_fuzz/.

Each seed is: flags byte, split byte, then segment bytes laid out as node/store/README.md
describes (records only when flag bit 0 asks the harness to prepend the segment header).
"""
import os
import struct
import sys

POLY = 0x82F63B78
TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ POLY if c & 1 else c >> 1
    TABLE.append(c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def record(kind, seq, ts, subject=b"", headers=b"", payload=b""):
    head = struct.pack("<4sBBHIIQq", b"MRC1", 1, kind, len(subject), len(headers), len(payload),
                       seq, ts)
    head += struct.pack("<I", crc32c(head))
    body = head + subject + headers + payload
    return body + struct.pack("<I", crc32c(body))


def segment_header(index, base):
    head = b"MERIDSEG" + struct.pack("<HHIQQ", 1, 0, 0, index, base)
    return head + struct.pack("<II", crc32c(head), 0)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus",
                       "store_recovery_fuzz")
    os.makedirs(out, exist_ok=True)
    msgs = [record(1, s, 1000 + s, b"orders.%d" % (s % 3), b"", b"payload %d" % s)
            for s in range(1, 6)]
    seeds = {
        "plain": bytes([1, 0]) + b"".join(msgs),
        "with_headers": bytes([1, 0]) + record(1, 1, 5, b"a.b", b"NATS/1.0\r\nK: v\r\n\r\n", b"x"),
        "tombstone_and_floor": bytes([1, 0]) + b"".join(msgs) + record(2, 3, 9) + record(3, 2, 9),
        "torn_tail": bytes([1, 0]) + b"".join(msgs)[:-7],
        "flipped_middle": bytes([1, 0]) + msgs[0] + msgs[1][:20] + bytes([msgs[1][20] ^ 4])
        + msgs[1][21:] + msgs[2],
        "two_segments": bytes([7, 128]) + b"".join(msgs[:2]) + b"".join(msgs[2:]),
        "raw_header_inside": bytes([0, 0]) + segment_header(1, 1) + b"".join(msgs),
        "gap_and_zero_tail": bytes([1, 0]) + msgs[0] + record(1, 9, 1, b"z", b"", b"") + bytes(64),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
