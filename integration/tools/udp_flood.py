"""Send UDP frames out of an interface as fast as asked, for a while.

    python3 udp_flood.py IFACE DST_MAC SRC_MAC SRC_IP DST_IP RATE SECONDS [fixed]

Each frame is a minimal IPv4/UDP packet to port 9 from a source port drawn
at random (every frame a likely new flow: an upcall flood), or always 4000
with `fixed` (the same load with no new flows). RATE is frames a second,
sent in 1 ms bursts; Python reaches ~180k a second on one core here. Prints
the frames sent and the seconds taken.
"""

import random
import socket
import struct
import sys
import time


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xFFFF)
    t += t >> 16
    return ~t & 0xFFFF


def main():
    iface, dst_mac, src_mac, src_ip, dst_ip, rate, secs = sys.argv[1:8]
    fixed = len(sys.argv) > 8 and sys.argv[8] == "fixed"
    rate, secs = int(rate), float(secs)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    mac = lambda m: bytes.fromhex(m.replace(":", ""))
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, 17, 0,
        socket.inet_aton(src_ip), socket.inet_aton(dst_ip),
    )
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    head = mac(dst_mac) + mac(src_mac) + b"\x08\x00" + ip
    per_ms = max(1, rate // 1000)
    sent, start = 0, time.time()
    while time.time() - start < secs:
        t0 = time.time()
        for _ in range(per_ms):
            sport = 4000 if fixed else random.randint(1024, 65535)
            s.send(head + struct.pack("!HHHH", sport, 9, 8, 0))
            sent += 1
        pause = 0.001 - (time.time() - t0)
        if pause > 0:
            time.sleep(pause)
    print(sent, round(time.time() - start, 3))


if __name__ == "__main__":
    main()
