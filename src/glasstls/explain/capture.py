"""TLS connections out of a packet capture (pcap or pcapng).

The file is read with dpkt (https://github.com/kbandla/dpkt): its pcap and pcapng
readers and its Ethernet, Linux cooked (SLL, SLL2), loopback, IPv4, IPv6 and TCP
decoders, all pure Python with no dependencies, so a capture from tshark,
tcpdump or a browser's machine reads the same everywhere. (scapy would do too
but costs a second to import and dissects far more than needed; python-pcapng
reads only pcapng and decodes no protocol.) dpkt does not reassemble TCP:
``TcpStream`` below does, for one direction of one connection.

    for connection in tls_connections("capture.pcapng"):
        explained = dissect(connection.records, KeyMaterial.from_keylog_file("keys.log"))
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .dissect import WireRecord
from .facts import CLIENT, SERVER

# Bytes buffered out of order per direction before a gap is given up on.
MAX_OUT_OF_ORDER = 1 << 22
_SEQUENCE = 1 << 32


class CaptureError(ValueError):
    """The file is not a capture dpkt can read, or holds a link type it cannot decode."""


class TcpStream:
    """One direction of a TCP connection, reassembled: bytes come out in sequence
    order once contiguous; retransmissions and overlaps are dropped, segments that
    arrive early wait for the gap before them."""

    def __init__(self) -> None:
        self._next: int | None = None  # sequence number of the next byte expected
        self._early: dict[int, bytes] = {}
        self._early_bytes = 0
        self.gaps = 0

    def syn(self, sequence: int) -> None:
        """A SYN: the data starts one after its sequence number."""
        if self._next is None:
            self._next = (sequence + 1) % _SEQUENCE

    def segment(self, sequence: int, payload: bytes) -> bytes:
        """Add a segment; returns the bytes that became contiguous (maybe none)."""
        if not payload:
            return b""
        if self._next is None:
            self._next = sequence  # capture started mid-connection
        out = bytearray()
        self._accept(sequence, payload, out)
        progress = True
        while progress and self._early:
            progress = False
            for start in list(self._early):
                if self._offset(start) <= 0:
                    data = self._early.pop(start)
                    self._early_bytes -= len(data)
                    self._accept(start, data, out)
                    progress = True
        return bytes(out)

    def _offset(self, sequence: int) -> int:
        """Where ``sequence`` is relative to the next expected byte (wrap-aware)."""
        assert self._next is not None
        offset = (sequence - self._next) % _SEQUENCE
        return offset - _SEQUENCE if offset >= _SEQUENCE // 2 else offset

    def _accept(self, sequence: int, payload: bytes, out: bytearray) -> None:
        offset = self._offset(sequence)
        if offset > 0:
            if sequence not in self._early and self._early_bytes + len(payload) <= (
                    MAX_OUT_OF_ORDER):
                self._early[sequence] = payload
                self._early_bytes += len(payload)
            return
        fresh = payload[-offset:] if offset < 0 else payload
        if offset < 0 and -offset >= len(payload):
            return  # all seen before: a retransmission
        assert self._next is not None
        out += fresh
        self._next = (self._next + len(fresh)) % _SEQUENCE


@dataclass
class TlsConnection:
    """The TLS records of one TCP connection, in capture order."""

    client: tuple[str, int]
    server: tuple[str, int]
    records: list[WireRecord] = field(default_factory=list)
    # Bytes that did not form a whole record at the end of each direction.
    leftover: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{_address(self.client)} \u2192 {_address(self.server)}"


def _address(endpoint: tuple[str, int]) -> str:
    host, port = endpoint
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Flow:
    def __init__(self, first: tuple[str, int], second: tuple[str, int]) -> None:
        self.ends = (first, second)
        self.streams = {first: TcpStream(), second: TcpStream()}
        self.pending = {first: b"", second: b""}
        self.client: tuple[str, int] | None = None
        self.records: list[tuple[tuple[str, int], bytes, float]] = []
        self.tls = True

    def data(self, source: tuple[str, int], data: bytes, time: float) -> None:
        buffer = self.pending[source] + data
        if self.client is None:
            # The client speaks first: its first bytes are a handshake record.
            if buffer[:1] != b"\x16" or (len(buffer) > 1 and buffer[1] != 3):
                self.tls = False
                return
            self.client = source
        position = 0
        while len(buffer) - position >= 5:
            if buffer[position + 1] != 3:
                self.tls = False  # not TLS (any more): stop reading this flow
                return
            end = position + 5 + int.from_bytes(buffer[position + 3 : position + 5], "big")
            if end > len(buffer):
                break
            self.records.append((source, buffer[position:end], time))
            position = end
        self.pending[source] = buffer[position:]


def _decoder(link_type: int) -> Any:
    import dpkt

    decoders = {
        dpkt.pcap.DLT_EN10MB: dpkt.ethernet.Ethernet,
        dpkt.pcap.DLT_LINUX_SLL: dpkt.sll.SLL,
        276: dpkt.sll2.SLL2,  # DLT_LINUX_SLL2, what "tshark -i any" writes
        dpkt.pcap.DLT_NULL: dpkt.loopback.Loopback,
        dpkt.pcap.DLT_LOOP: dpkt.loopback.Loopback,
    }
    if link_type in decoders:
        return decoders[link_type]
    if link_type in (dpkt.pcap.DLT_RAW, 12, 14, 228, 229):
        return lambda data: dpkt.ip6.IP6(data) if data[:1] and data[0] >> 4 == 6 else (
            dpkt.ip.IP(data))
    raise CaptureError(f"link type {link_type} is not one glasstls reads (Ethernet, Linux "
                       "cooked, loopback or raw IP)")


def _packets(path: Path, notes: list[str]) -> Iterator[tuple[float, Any]]:
    import dpkt

    try:
        stream = path.open("rb")
    except OSError as error:
        raise CaptureError(f"cannot read {path}: {error.strerror}") from None
    with stream:
        magic = stream.read(4)
        stream.seek(0)
        try:
            reader: Any = (dpkt.pcapng.Reader(stream) if magic == b"\x0a\x0d\x0d\x0a"
                           else dpkt.pcap.Reader(stream))
        except dpkt.dpkt.NeedData:
            raise CaptureError(f"{path}: the file ends inside its header") from None
        except (ValueError, dpkt.dpkt.Error) as error:
            raise CaptureError(f"{path}: not a pcap or pcapng file ({error})") from None
        decode = _decoder(reader.datalink())
        packets = iter(reader)
        while True:
            try:
                timestamp, data = next(packets)
            except StopIteration:
                return
            except dpkt.dpkt.Error:
                # A capture stopped while writing (tcpdump killed, a copy taken
                # mid-capture): what came before is still worth reading.
                notes.append(f"{path} ends in the middle of a packet: read up to there")
                return
            try:
                yield float(timestamp), decode(data)
            except (dpkt.dpkt.Error, IndexError, ValueError):
                continue  # a packet too short or damaged to decode


def _ip_text(packet: Any) -> str:
    family = socket.AF_INET6 if len(packet) == 16 else socket.AF_INET
    return socket.inet_ntop(family, packet)


def tls_connections(path: str | Path, port: int | None = None,
                    notes: list[str] | None = None) -> list[TlsConnection]:
    """Every TCP connection in the capture that carries TLS, in order of first packet
    (only those with ``port`` at either end, when given). What the reader had to
    put up with (a file cut short) is added to ``notes``."""
    import dpkt

    flows: dict[frozenset[tuple[str, int]], _Flow] = {}
    order: list[_Flow] = []
    for timestamp, frame in _packets(Path(path), [] if notes is None else notes):
        ip = frame
        while ip is not None and not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
            ip = getattr(ip, "data", None)
            if isinstance(ip, (bytes, bytearray)):
                ip = None
        if ip is None or not isinstance(ip.data, dpkt.tcp.TCP):
            continue
        tcp = ip.data
        source, destination = (_ip_text(ip.src), tcp.sport), (_ip_text(ip.dst), tcp.dport)
        if port is not None and port not in (tcp.sport, tcp.dport):
            continue
        key = frozenset((source, destination))
        flow = flows.get(key)
        if flow is None or (tcp.flags & dpkt.tcp.TH_SYN and not tcp.flags & dpkt.tcp.TH_ACK
                            and flow.records):
            flow = flows[key] = _Flow(source, destination)  # a new connection, same ports
            order.append(flow)
        stream = flow.streams[source]
        if tcp.flags & dpkt.tcp.TH_SYN:
            stream.syn(tcp.seq)
        data = stream.segment(tcp.seq, bytes(tcp.data))
        if data and flow.tls:
            flow.data(source, data, timestamp)
    connections = []
    for flow in order:
        if not flow.tls or flow.client is None or not flow.records:
            continue
        server = flow.ends[1] if flow.client == flow.ends[0] else flow.ends[0]
        connection = TlsConnection(flow.client, server)
        connection.records = [WireRecord(CLIENT if source == flow.client else SERVER, data, time)
                              for source, data, time in flow.records]
        connection.leftover = {CLIENT if end == flow.client else SERVER: len(flow.pending[end])
                               for end in flow.ends if flow.pending[end]}
        connections.append(connection)
    return connections
