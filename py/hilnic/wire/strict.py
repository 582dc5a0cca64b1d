"""strict mode for `PeerHost`: scapy re-checks every frame against the fast path's verdicts.

scapy's dissector and its own checksum routines (`scapy.utils.checksum`,
`scapy.layers.inet.in4_chksum`) share no code with packets.py, so agreement here means
the struct/big-integer fast path parsed the frame right. Imported only when strict=True.
"""

from __future__ import annotations

from typing import Any

from scapy.layers.inet import IP, TCP, UDP, in4_chksum
from scapy.layers.l2 import Ether
from scapy.utils import checksum


class StrictCheckError(AssertionError):
    """scapy and the fast path disagree about a frame."""


def check_fcs(frame: Any, fast_ok: bool) -> None:
    """The NIC (model or RTL) reports fcs_ok itself; it must match the peer's CRC-32."""
    if bool(frame.fcs_ok) != fast_ok:
        raise StrictCheckError(f"frame {frame.index}: NIC says fcs_ok={frame.fcs_ok}, peer computed {fast_ok}")


def _l4_verdict(ip: Any, l4: bytes) -> bool | None:
    if ip.proto == 6 and len(l4) >= 20:
        return in4_chksum(6, ip, l4) == 0
    if ip.proto == 17 and len(l4) >= 8:
        if l4[6:8] == b"\x00\x00":
            return None  # no checksum
        return in4_chksum(17, ip, l4) == 0
    return None


def check_frame(raw: bytes, fast_ip: bool | None, fast_l4: bool | None) -> None:
    """`raw` is the frame without FCS; the verdicts are None where the fast path made none."""
    pkt = Ether(raw)
    if IP not in pkt or pkt.type != 0x0800:
        if fast_ip is not None:
            raise StrictCheckError("fast path judged an IPv4 header scapy does not see")
        return
    ip = pkt[IP]
    ihl = ip.ihl * 4
    hdr = raw[14:14 + ihl]
    scapy_ip = checksum(hdr) == 0
    if fast_ip is not None and fast_ip != scapy_ip:
        raise StrictCheckError(f"IPv4 header checksum: fast path {fast_ip}, scapy {scapy_ip}")
    if fast_l4 is None:
        return
    if ip.flags.MF or ip.frag:
        raise StrictCheckError("fast path checked L4 of a fragment")
    scapy_l4 = _l4_verdict(ip, raw[14 + ihl:14 + ip.len])
    if scapy_l4 is not None and scapy_l4 != fast_l4:
        layer = "TCP" if TCP in pkt else "UDP" if UDP in pkt else f"proto {ip.proto}"
        raise StrictCheckError(f"{layer} checksum: fast path {fast_l4}, scapy {scapy_l4}")


def check_reassembled(hdr: bytes, payload: bytes, proto: int) -> None:
    """The rebuilt header must be a valid unfragmented header for the datagram."""
    ip = IP(hdr + payload)
    if checksum(hdr) != 0 or ip.len != len(hdr) + len(payload) or ip.frag or ip.flags.MF or ip.proto != proto:
        raise StrictCheckError(f"reassembled header is wrong: {ip.summary()}")
