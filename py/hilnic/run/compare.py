"""`hilnic compare`: the host's segments in a run's wire.pcap beside those of a real capture.

A capture becomes a *pattern*: what the host (the sending machine) put on the wire, one
token per segment, in order —

    TCP   the segments of the first connection the host opened (the sender of the first SYN
          without ACK; without a SYN in the file, the source of the first data segment) that
          carry something: `S` (SYN), the payload size with `P` for PSH and `F` for FIN
          (`1448`, `1000P`, `524PF`; a bare FIN is `F`), `R` for RST. Pure ACKs are left out:
          they answer the peer, which is not what is compared.
    UDP   every IPv4 packet of the host's datagrams as `ip_len@offset` (+`+MF` while more
          fragments follow): `1500@0+MF 1500@1480+MF 1068@2960`.

and is shown run-length encoded (`1448 x44`). Two patterns match when the token lists are
equal; the first difference is highlighted. A real pattern that varies between runs is
compared on its *features* only (segment count, bytes, largest segment, PSH count, where the
FIN rides, ...): the JSON sidecar next to a reference pcap (`REAL.json`, written by
scripts/linux_ref/capture.py) says which features were stable, `--features` names them by hand.

Files: classic pcap (either byte order, us or ns) or pcapng, read with scapy; link types
Ethernet (DLT_EN10MB, with or without the FCS-length bits hilnic's wire.pcap sets — the IP
total length bounds every packet, so an FCS or padding after it is ignored), Linux cooked
(SLL, SLL2, from `tcpdump -i any`) and raw IP. A run directory means its wire.pcap.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scapy.error import Scapy_Exception
from scapy.utils import RawPcapReader

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_IPV4 = 228
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
_RAW_BSD = (12, 14)  # DLT_RAW on some BSDs

ETH_P_IP = 0x0800
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IP_MF = 0x2000
IP_OFFMASK = 0x1FFF
TH_FIN, TH_SYN, TH_RST, TH_PSH, TH_ACK = 0x01, 0x02, 0x04, 0x08, 0x10

TCP_FEATURES = ("pattern", "segments", "bytes", "max_size", "sizes", "psh", "fin", "first", "last")
UDP_FEATURES = ("pattern", "packets", "bytes", "fragmented")


class CompareError(ValueError):
    """A file that cannot be read or holds nothing to compare: one line for the user."""


@dataclass(frozen=True)
class IpPacket:
    """The IPv4 header fields a pattern needs, and the L4 bytes as captured (maybe truncated)."""

    src: bytes
    dst: bytes
    proto: int
    total_len: int
    ihl: int
    frag_off: int  # in bytes
    mf: bool
    l4: bytes


@dataclass
class Pattern:
    """The host's side of one capture."""

    proto: str  # "tcp" | "udp"
    host: str  # dotted IPv4 (and :port for TCP)
    peer: str
    tokens: list[str] = field(default_factory=list)
    payloads: list[int] = field(default_factory=list)  # TCP: payload bytes per token (0 for S/F/R)
    frames: int = 0  # IPv4 packets in the file

    def rle(self) -> list[tuple[str, int]]:
        return rle(self.tokens)

    def text(self) -> str:
        return rle_text(self.tokens)

    def features(self) -> dict[str, Any]:
        return features(self)


# -- reading --------------------------------------------------------------------------------------


def pcap_path(path: str | Path) -> Path:
    """A run directory means its wire.pcap."""
    p = Path(path)
    if p.is_dir():
        p = p / "wire.pcap"
    if not p.exists():
        raise CompareError(f"{p}: no such file")
    return p


def _l3_offset(linktype: int, data: bytes) -> int | None:
    """Where the IPv4 header starts in a record of this link type, None if it is not IPv4."""
    lt = linktype & 0xFFFF  # the high bits may carry the FCS length (LT_FCS_DATALINK_EXT)
    if lt == LINKTYPE_ETHERNET:
        off, et = 12, None
        while off + 2 <= len(data):
            et = data[off] << 8 | data[off + 1]
            if et in (ETH_P_8021Q, ETH_P_8021AD):
                off += 4
                continue
            break
        return off + 2 if et == ETH_P_IP else None
    if lt == LINKTYPE_LINUX_SLL:
        return 16 if len(data) >= 16 and data[14:16] == b"\x08\x00" else None
    if lt == LINKTYPE_LINUX_SLL2:
        return 20 if len(data) >= 20 and data[0:2] == b"\x08\x00" else None
    if lt in (LINKTYPE_RAW, LINKTYPE_IPV4, *_RAW_BSD):
        return 0 if data[:1] and data[0] >> 4 == 4 else None
    return None


def read_ipv4(path: str | Path) -> list[IpPacket]:
    """Every IPv4 packet in a pcap/pcapng file, in file order."""
    p = pcap_path(path)
    try:
        reader = RawPcapReader(str(p))
    except (Scapy_Exception, OSError, EOFError) as exc:
        raise CompareError(f"{p}: not a pcap or pcapng file ({exc})") from None
    out: list[IpPacket] = []
    try:
        for data, meta in reader:
            linktype = getattr(meta, "linktype", None)
            if linktype is None:
                linktype = reader.linktype
            off = _l3_offset(int(linktype), data)
            if off is None or len(data) < off + 20:
                continue
            vihl = data[off]
            if vihl >> 4 != 4:
                continue
            ihl = (vihl & 0x0F) * 4
            total, frag = struct.unpack_from("!H2xH", data, off + 2)
            proto = data[off + 9]
            out.append(IpPacket(bytes(data[off + 12:off + 16]), bytes(data[off + 16:off + 20]), proto, total, ihl,
                                (frag & IP_OFFMASK) * 8, bool(frag & IP_MF), bytes(data[off + ihl:off + total])))
    finally:
        reader.close()
    return out


def _ip(b: bytes) -> str:
    return ".".join(str(x) for x in b)


# -- patterns -------------------------------------------------------------------------------------


def tcp_token(payload: int, flags: int) -> str:
    if flags & TH_RST:
        return "R"
    if flags & TH_SYN:
        return "S"
    if payload == 0:
        return "F"  # a bare FIN (pure ACKs are not tokens)
    return f"{payload}" + ("P" if flags & TH_PSH else "") + ("F" if flags & TH_FIN else "")


def udp_token(pkt: IpPacket) -> str:
    return f"{pkt.total_len}@{pkt.frag_off}" + ("+MF" if pkt.mf else "")


def tcp_pattern(pkts: Sequence[IpPacket]) -> Pattern | None:
    """The first connection's host segments; None if there is no TCP in the file."""
    segs = []
    for pk in pkts:
        if pk.proto != IPPROTO_TCP or pk.frag_off or len(pk.l4) < 14:
            continue
        sport, dport = struct.unpack_from("!HH", pk.l4, 0)
        doff = (pk.l4[12] >> 4) * 4
        flags = pk.l4[13]
        segs.append((pk.src, sport, pk.dst, dport, flags, max(0, pk.total_len - pk.ihl - doff)))
    if not segs:
        return None
    syn = next((s for s in segs if s[4] & TH_SYN and not s[4] & TH_ACK), None)
    if syn is None:
        syn = next((s for s in segs if s[5] > 0), segs[0])
    host = syn[:4]
    pat = Pattern("tcp", f"{_ip(host[0])}:{host[1]}", f"{_ip(host[2])}:{host[3]}", frames=len(pkts))
    for s in segs:
        if s[:4] != host:
            continue
        flags, n = s[4], s[5]
        if n == 0 and not flags & (TH_SYN | TH_FIN | TH_RST):
            continue
        pat.tokens.append(tcp_token(n, flags))
        pat.payloads.append(n)
    return pat


def udp_pattern(pkts: Sequence[IpPacket]) -> Pattern | None:
    """The host's UDP datagrams (every fragment); None if there is no UDP in the file."""
    first = next((pk for pk in pkts if pk.proto == IPPROTO_UDP), None)
    if first is None:
        return None
    pat = Pattern("udp", _ip(first.src), _ip(first.dst), frames=len(pkts))
    for pk in pkts:
        if pk.proto == IPPROTO_UDP and pk.src == first.src and pk.dst == first.dst:
            pat.tokens.append(udp_token(pk))
            pat.payloads.append(pk.total_len - pk.ihl)
    return pat


def pattern_of(path: str | Path, proto: str | None = None) -> Pattern:
    """The host's pattern in a capture: TCP if it holds a TCP connection, else UDP (or `proto`)."""
    pkts = read_ipv4(path)
    if proto in (None, "tcp"):
        pat = tcp_pattern(pkts)
        if pat is not None:
            return pat
        if proto == "tcp":
            raise CompareError(f"{pcap_path(path)}: no TCP segment in {len(pkts)} IPv4 packets")
    pat = udp_pattern(pkts)
    if pat is None:
        raise CompareError(f"{pcap_path(path)}: no TCP or UDP packet in {len(pkts)} IPv4 packets"
                           if proto is None else f"{pcap_path(path)}: no UDP packet in {len(pkts)} IPv4 packets")
    return pat


def rle(tokens: Iterable[str]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for t in tokens:
        if out and out[-1][0] == t:
            out[-1] = (t, out[-1][1] + 1)
        else:
            out.append((t, 1))
    return out


def rle_text(tokens: Iterable[str]) -> str:
    return " ".join(t if n == 1 else f"{t} x{n}" for t, n in rle(tokens))


def features(pat: Pattern) -> dict[str, Any]:
    """The pattern's features by name (TCP_FEATURES / UDP_FEATURES)."""
    if pat.proto == "udp":
        return {"pattern": pat.text(), "packets": len(pat.tokens), "bytes": sum(pat.payloads),
                "fragmented": sum(1 for t in pat.tokens if "+MF" in t or not t.split("@")[1].startswith("0"))}
    data = [(t, n) for t, n in zip(pat.tokens, pat.payloads, strict=True) if n > 0]
    fin_tok = next((t for t in reversed(pat.tokens) if t.endswith("F")), None)
    if fin_tok is None:
        fin = "none"
    elif fin_tok == "F":
        fin = "alone"
    else:
        fin = "with data"
    return {
        "pattern": pat.text(),
        "segments": len(data),
        "bytes": sum(n for _, n in data),
        "max_size": max((n for _, n in data), default=0),
        "sizes": " ".join(str(s) for s in sorted({n for _, n in data})),
        "psh": sum(1 for t, _ in data if "P" in t),
        "fin": fin,
        "first": data[0][0] if data else "",
        "last": pat.tokens[-1] if pat.tokens else "",
    }


# -- comparing ------------------------------------------------------------------------------------


@dataclass
class Comparison:
    run: Pattern
    real: Pattern
    mode: str  # "full" | "features"
    checked: list[str]  # the features compared ("pattern" alone in full mode)
    first_diff: int | None = None  # full mode: index of the first differing token
    diffs: list[str] = field(default_factory=list)  # features mode: the features that differ

    @property
    def ok(self) -> bool:
        return self.run.proto == self.real.proto and self.first_diff is None and not self.diffs

    def first_difference(self) -> str:
        """One line: what differs first ('' when they match)."""
        if self.run.proto != self.real.proto:
            return f"protocol: run {self.run.proto.upper()}, real {self.real.proto.upper()}"
        if self.first_diff is not None:
            i = self.first_diff
            what = "packet" if self.run.proto == "udp" else "segment"
            a = self.run.tokens[i] if i < len(self.run.tokens) else "(end)"
            b = self.real.tokens[i] if i < len(self.real.tokens) else "(end)"
            return f"{what} {i + 1}: run {a}, real {b}"
        if self.diffs:
            fa, fb = self.run.features(), self.real.features()
            name = self.diffs[0]
            return f"{name}: run {fa[name]}, real {fb[name]}"
        return ""


def compare(run: Pattern, real: Pattern, feature_names: Sequence[str] | None = None) -> Comparison:
    """Full comparison (token lists equal), or on the named features only."""
    names = list(feature_names) if feature_names else ["pattern"]
    known = UDP_FEATURES if real.proto == "udp" else TCP_FEATURES
    bad = [n for n in names if n not in known]
    if bad:
        raise CompareError(f"unknown feature {bad[0]!r} for {real.proto.upper()} (known: {', '.join(known)})")
    mode = "full" if names == ["pattern"] else "features"
    c = Comparison(run, real, mode, names)
    if run.proto != real.proto:
        return c
    if mode == "full":
        for i in range(max(len(run.tokens), len(real.tokens))):
            a = run.tokens[i] if i < len(run.tokens) else None
            b = real.tokens[i] if i < len(real.tokens) else None
            if a != b:
                c.first_diff = i
                break
        return c
    fa, fb = run.features(), real.features()
    c.diffs = [n for n in names if fa[n] != fb[n]]
    return c


def sidecar_of(real_pcap: str | Path) -> dict[str, Any] | None:
    """REAL.json beside REAL.pcap (scripts/linux_ref/capture.py), if there is one."""
    p = Path(real_pcap)
    side = p.with_suffix(".json")
    if not side.exists() or side == p:
        return None
    try:
        data = json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        raise CompareError(f"{side}: not JSON ({exc})") from None
    return data if isinstance(data, dict) else None


def stable_features(sidecar: dict[str, Any] | None) -> list[str] | None:
    """The features a sidecar says are stable across runs (None: compare the full pattern)."""
    if not sidecar:
        return None
    st = sidecar.get("stable")
    if not isinstance(st, dict) or st.get("mode") != "features":
        return None
    names = st.get("features")
    if isinstance(names, dict):
        return list(names)
    return list(names) if isinstance(names, list) else None


# -- the report -----------------------------------------------------------------------------------

_RED, _BOLD, _RESET = "\x1b[31m", "\x1b[1m", "\x1b[0m"


def _groups_with_index(tokens: Sequence[str]) -> list[tuple[str, int, int]]:
    """RLE groups as (token, count, index of the group's first token)."""
    out, i = [], 0
    for t, n in rle(tokens):
        out.append((t, n, i))
        i += n
    return out


def _cell(g: tuple[str, int, int] | None) -> str:
    if g is None:
        return ""
    t, n, _ = g
    return t if n == 1 else f"{t} x{n}"


def format_comparison(c: Comparison, run_name: str, real_name: str, color: bool = False) -> str:
    run, real = c.run, c.real
    lines = []
    if real.proto == "udp":
        legend = "IPv4 packets of the host's UDP datagrams: ip_len@fragment offset, +MF while more fragments follow"
    else:
        legend = "TCP segments the host sent: payload bytes, P = PSH, F = FIN, S = SYN (pure ACKs left out)"
    lines.append(f"hilnic compare: {legend}; runs of equal segments as 'TOKEN xN'")
    lines.append(f"  run   {run_name}: host {run.host} -> {run.peer}, {len(run.tokens)} {run.proto.upper()} tokens")
    lines.append(f"  real  {real_name}: host {real.host} -> {real.peer}, {len(real.tokens)} {real.proto.upper()} tokens")
    if run.proto != real.proto:
        lines.append(f"  result  DIFFERENT: {c.first_difference()}")
        return "\n".join(lines)
    ga, gb = _groups_with_index(run.tokens), _groups_with_index(real.tokens)
    mark_row = None
    if c.first_diff is not None:  # the first row whose groups differ
        mark_row = next((r for r in range(max(len(ga), len(gb)))
                         if (ga[r] if r < len(ga) else None) != (gb[r] if r < len(gb) else None)), None)
    w = max([len("run"), *(len(_cell(g)) for g in ga)]) + 2
    lines.append("")
    lines.append(f"  {'#':>5}  {'run':<{w}}{'#':>5}  real")
    for r in range(max(len(ga), len(gb))):
        a = ga[r] if r < len(ga) else None
        b = gb[r] if r < len(gb) else None
        ia = f"{a[2] + 1}" if a is not None else ""
        ib = f"{b[2] + 1}" if b is not None else ""
        row = f"  {ia:>5}  {_cell(a):<{w}}{ib:>5}  {_cell(b)}"
        if r == mark_row:
            row = f"{row:<{w + 30}}  <<< first difference"
            if color:
                row = f"{_BOLD}{_RED}{row}{_RESET}"
        lines.append(row)
    if c.mode == "features":
        fa, fb = run.features(), real.features()
        lines.append("")
        lines.append("  compared on the features stable across real runs (the full pattern varies):")
        for name in c.checked:
            same = fa[name] == fb[name]
            row = f"    {'ok ' if same else 'DIFF'} {name:<10} run {fa[name]!s:<24} real {fb[name]}"
            if not same and color:
                row = f"{_BOLD}{_RED}{row}{_RESET}"
            lines.append(row)
    lines.append("")
    if c.ok:
        what = "the stable features" if c.mode == "features" else f"all {len(real.tokens)} tokens"
        lines.append(f"  result  MATCH: {what} equal")
    else:
        lines.append(f"  result  DIFFERENT: {c.first_difference()}")
    return "\n".join(lines)


def compare_files(run_path: str | Path, real_path: str | Path, feature_names: Sequence[str] | None = None,
                  full: bool = False) -> Comparison:
    """Read both captures and compare them (features from REAL's sidecar unless given or `full`)."""
    real = pattern_of(real_path)
    run = pattern_of(run_path, proto=real.proto)
    names = None if full else (feature_names or stable_features(sidecar_of(real_path)))
    return compare(run, real, names)


__all__ = [
    "TCP_FEATURES",
    "UDP_FEATURES",
    "CompareError",
    "Comparison",
    "Pattern",
    "compare",
    "compare_files",
    "features",
    "format_comparison",
    "pattern_of",
    "read_ipv4",
    "rle",
    "rle_text",
    "sidecar_of",
    "stable_features",
]
