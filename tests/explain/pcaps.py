"""Captures made in the tests: TLS records written as a pcap of TCP segments
(Ethernet, IPv4) with dpkt, for feeding ``glasstls explain --pcap``."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path

import dpkt

CLIENT = ("10.0.0.1", 50000)
SERVER = ("10.0.0.2", 443)


def _packet(source: tuple[str, int], destination: tuple[str, int], sequence: int,
            payload: bytes, flags: int = dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH) -> bytes:
    tcp = dpkt.tcp.TCP(sport=source[1], dport=destination[1], seq=sequence, flags=flags,
                       data=payload)
    ip = dpkt.ip.IP(src=socket.inet_aton(source[0]), dst=socket.inet_aton(destination[0]),
                    p=dpkt.ip.IP_PROTO_TCP, data=tcp)
    ip.len = len(bytes(ip))
    ethernet = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6,
                                      type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
    return bytes(ethernet)


def write_capture(path: Path, flights: Sequence[tuple[str, bytes]],
                  segment_size: int = 1400, reorder: bool = False,
                  pcapng: bool = False) -> Path:
    """``flights`` as (sender "client"/"server", bytes) in order, cut into TCP segments
    after a handshake; ``reorder`` swaps each pair of segments and repeats one (the
    reassembler must undo both)."""
    sequences = {"client": 1000, "server": 5000}
    ends = {"client": (CLIENT, SERVER), "server": (SERVER, CLIENT)}
    packets = [_packet(CLIENT, SERVER, 999, b"", dpkt.tcp.TH_SYN),
               _packet(SERVER, CLIENT, 4999, b"", dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK)]
    for sender, data in flights:
        segments = []
        for start in range(0, len(data), segment_size):
            chunk = data[start : start + segment_size]
            segments.append(_packet(*ends[sender], sequences[sender], chunk))
            sequences[sender] += len(chunk)
        if reorder and len(segments) > 1:
            segments[0], segments[1] = segments[1], segments[0]
            segments.append(segments[0])
        packets += segments
    with path.open("wb") as stream:
        writer = dpkt.pcapng.Writer(stream) if pcapng else dpkt.pcap.Writer(stream)
        for number, packet in enumerate(packets):
            writer.writepkt(packet, ts=1_700_000_000 + number / 1000)
    return path
