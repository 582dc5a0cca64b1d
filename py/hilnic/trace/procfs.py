"""/proc files, formatted as Linux 6.9 prints them (one CPU).

Each function takes the model's objects and returns the file's text. The format strings
are those of the kernel: net/core/net-procfs.c (softnet_stat, dev), fs/proc/softirqs.c,
kernel/irq/proc.c plus arch/x86 (interrupts), net/ipv4/proc.c (snmp, netstat).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hilnic.kernel.softirq import NR_SOFTIRQS, SOFTIRQ_NAMES
from hilnic.trace._access import get, num

NCPUS = 1


def softnet_stat(kernel: Any) -> str:
    """/proc/net/softnet_stat: 15 %08x columns per CPU (softnet_seq_show, 6.9)."""
    sd = kernel.softnet
    input_qlen = num(sd, "input_pkt_queue")
    process_qlen = num(sd, "process_queue")
    cols = [
        num(sd, "processed"),
        num(sd, "dropped"),
        num(sd, "time_squeeze"),
        0, 0, 0, 0, 0,  # was fastroute
        0,  # was cpu_collision
        num(sd, "received_rps"),
        num(sd, "flow_limit_count"),
        input_qlen + process_qlen,
        0,  # the CPU's index
        input_qlen,
        process_qlen,
    ]
    return " ".join(f"{c & 0xFFFFFFFF:08x}" for c in cols) + "\n"


def proc_stat(kernel: Any) -> str:
    """/proc/stat's cpu lines and softirq line, and top's %Cpu line.

    The columns are /proc/stat's (user nice system idle iowait irq softirq steal guest
    guest_nice), in ns of simulated CPU time rather than USER_HZ ticks, since a run lasts
    milliseconds. user is the application's --think-time, system kernel work in process
    context (tcp_sendmsg, release_sock's backlog), irq the hard-IRQ handlers, softirq every
    softirq run (ksoftirqd's too: IRQ time accounting); idle is the rest of the run.
    """
    us, sy, si, hi = (v // 1000 for v in kernel.cpustat)
    elapsed = kernel.env.now() // 1000
    idle = max(0, elapsed - us - sy - si - hi)
    cols = [us, 0, sy, idle, 0, hi, si, 0, 0, 0]
    row = " ".join(str(c) for c in cols)
    lines = [f"cpu  {row}"] + [f"cpu{i} {row}" for i in range(NCPUS)]
    sirq = list(kernel.softirq_count)
    lines.append("softirq " + " ".join(str(c) for c in [sum(sirq), *sirq]))

    def pct(v: int) -> str:
        return f"{100.0 * v / elapsed:5.1f}" if elapsed else "  0.0"

    lines.append(f"# top: %Cpu0  : {pct(us)} us, {pct(sy)} sy,   0.0 ni, {pct(idle)} id,   0.0 wa, {pct(hi)} hi, "
                 f"{pct(si)} si,   0.0 st   (of {elapsed / 1e6:.3f} ms)")
    return "\n".join(lines) + "\n"


def proc_softirqs(kernel: Any) -> str:
    """/proc/softirqs: handler runs per vector (kstat_incr_softirqs_this_cpu)."""
    lines = [" " * 20 + "".join(f"CPU{i:<8d}" for i in range(NCPUS))]
    counts = list(kernel.softirq_count)
    for nr in range(NR_SOFTIRQS):
        lines.append(f"{SOFTIRQ_NAMES[nr]:>12s}:" + f" {counts[nr] if nr < len(counts) else 0:10d}")
    return "\n".join(lines) + "\n"


def _irq_prec(nr_irqs: int) -> int:
    prec, j = 3, 1000
    while prec < 10 and j <= nr_irqs:
        prec += 1
        j *= 10
    return prec


def proc_interrupts(kernel: Any, chip: str = "IO-APIC", flow: str = "fasteoi") -> str:
    """/proc/interrupts (show_interrupts + x86's ERR/MIS rows).

    The NIC's line is level-triggered INTx, which x86 shows as `IO-APIC <gsi>-fasteoi`;
    the action name is whatever the driver passed to request_irq (`<if>-TxRx-0`).
    """
    irqs = sorted(kernel.irqs.values(), key=lambda d: d.irq)
    prec = _irq_prec(max((d.irq for d in irqs), default=0) + 1)
    lines = [" " * (prec + 8) + "".join(f"CPU{i:<8d}" for i in range(NCPUS))]
    for d in irqs:
        lines.append(f"{d.irq:>{prec}d}: " + f"{d.count:10d} " + f" {chip:>8s}" + f" {d.irq:>{prec}d}"
                     + f"-{flow:<8s}" + f"  {d.name}")
    spurious = sum(getattr(d, "unhandled", 0) for d in irqs)
    lines.append(f"{'ERR':>{prec}s}: {0:10d}")
    lines.append(f"{'MIS':>{prec}s}: {spurious:10d}")
    return "\n".join(lines) + "\n"


# net/ipv4/proc.c, Linux 6.9
IP_LIST = ["InReceives", "InHdrErrors", "InAddrErrors", "ForwDatagrams", "InUnknownProtos", "InDiscards",
           "InDelivers", "OutRequests", "OutDiscards", "OutNoRoutes", "ReasmTimeout", "ReasmReqds", "ReasmOKs",
           "ReasmFails", "FragOKs", "FragFails", "FragCreates", "OutTransmits"]
_ICMP_TYPES = ["DestUnreachs", "TimeExcds", "ParmProbs", "SrcQuenchs", "Redirects", "Echos", "EchoReps",
               "Timestamps", "TimestampReps", "AddrMasks", "AddrMaskReps"]
ICMP_LIST = (["InMsgs", "InErrors", "InCsumErrors"] + [f"In{t}" for t in _ICMP_TYPES]
             + ["OutMsgs", "OutErrors", "OutRateLimitGlobal", "OutRateLimitHost"] + [f"Out{t}" for t in _ICMP_TYPES])
TCP_LIST = ["RtoAlgorithm", "RtoMin", "RtoMax", "MaxConn", "ActiveOpens", "PassiveOpens", "AttemptFails",
            "EstabResets", "CurrEstab", "InSegs", "OutSegs", "RetransSegs", "InErrs", "OutRsts", "InCsumErrors"]
UDP_LIST = ["InDatagrams", "NoPorts", "InErrors", "OutDatagrams", "RcvbufErrors", "SndbufErrors", "InCsumErrors",
            "IgnoredMulti", "MemErrors"]
TCP_FIXED = {"RtoAlgorithm": 1, "RtoMin": 200, "RtoMax": 120000, "MaxConn": -1}  # tcp_init_mib... RFC 2012
TCPEXT_LIST = [
    "SyncookiesSent",
    "SyncookiesRecv",
    "SyncookiesFailed",
    "EmbryonicRsts",
    "PruneCalled",
    "RcvPruned",
    "OfoPruned",
    "OutOfWindowIcmps",
    "LockDroppedIcmps",
    "ArpFilter",
    "TW",
    "TWRecycled",
    "TWKilled",
    "PAWSActive",
    "PAWSEstab",
    "DelayedACKs",
    "DelayedACKLocked",
    "DelayedACKLost",
    "ListenOverflows",
    "ListenDrops",
    "TCPHPHits",
    "TCPPureAcks",
    "TCPHPAcks",
    "TCPRenoRecovery",
    "TCPSackRecovery",
    "TCPSACKReneging",
    "TCPSACKReorder",
    "TCPRenoReorder",
    "TCPTSReorder",
    "TCPFullUndo",
    "TCPPartialUndo",
    "TCPDSACKUndo",
    "TCPLossUndo",
    "TCPLostRetransmit",
    "TCPRenoFailures",
    "TCPSackFailures",
    "TCPLossFailures",
    "TCPFastRetrans",
    "TCPSlowStartRetrans",
    "TCPTimeouts",
    "TCPLossProbes",
    "TCPLossProbeRecovery",
    "TCPRenoRecoveryFail",
    "TCPSackRecoveryFail",
    "TCPRcvCollapsed",
    "TCPBacklogCoalesce",
    "TCPDSACKOldSent",
    "TCPDSACKOfoSent",
    "TCPDSACKRecv",
    "TCPDSACKOfoRecv",
    "TCPAbortOnData",
    "TCPAbortOnClose",
    "TCPAbortOnMemory",
    "TCPAbortOnTimeout",
    "TCPAbortOnLinger",
    "TCPAbortFailed",
    "TCPMemoryPressures",
    "TCPMemoryPressuresChrono",
    "TCPSACKDiscard",
    "TCPDSACKIgnoredOld",
    "TCPDSACKIgnoredNoUndo",
    "TCPSpuriousRTOs",
    "TCPMD5NotFound",
    "TCPMD5Unexpected",
    "TCPMD5Failure",
    "TCPSackShifted",
    "TCPSackMerged",
    "TCPSackShiftFallback",
    "TCPBacklogDrop",
    "PFMemallocDrop",
    "TCPMinTTLDrop",
    "TCPDeferAcceptDrop",
    "IPReversePathFilter",
    "TCPTimeWaitOverflow",
    "TCPReqQFullDoCookies",
    "TCPReqQFullDrop",
    "TCPRetransFail",
    "TCPRcvCoalesce",
    "TCPOFOQueue",
    "TCPOFODrop",
    "TCPOFOMerge",
    "TCPChallengeACK",
    "TCPSYNChallenge",
    "TCPFastOpenActive",
    "TCPFastOpenActiveFail",
    "TCPFastOpenPassive",
    "TCPFastOpenPassiveFail",
    "TCPFastOpenListenOverflow",
    "TCPFastOpenCookieReqd",
    "TCPFastOpenBlackhole",
    "TCPSpuriousRtxHostQueues",
    "BusyPollRxPackets",
    "TCPAutoCorking",
    "TCPFromZeroWindowAdv",
    "TCPToZeroWindowAdv",
    "TCPWantZeroWindowAdv",
    "TCPSynRetrans",
    "TCPOrigDataSent",
    "TCPHystartTrainDetect",
    "TCPHystartTrainCwnd",
    "TCPHystartDelayDetect",
    "TCPHystartDelayCwnd",
    "TCPACKSkippedSynRecv",
    "TCPACKSkippedPAWS",
    "TCPACKSkippedSeq",
    "TCPACKSkippedFinWait2",
    "TCPACKSkippedTimeWait",
    "TCPACKSkippedChallenge",
    "TCPWinProbe",
    "TCPKeepAlive",
    "TCPMTUPFail",
    "TCPMTUPSuccess",
    "TCPDelivered",
    "TCPDeliveredCE",
    "TCPAckCompressed",
    "TCPZeroWindowDrop",
    "TCPRcvQDrop",
    "TCPWqueueTooBig",
    "TCPFastOpenPassiveAltKey",
    "TcpTimeoutRehash",
    "TcpDuplicateDataRehash",
    "TCPDSACKRecvSegs",
    "TCPDSACKIgnoredDubious",
    "TCPMigrateReqSuccess",
    "TCPMigrateReqFailure",
    "TCPPLBRehash",
    "TCPAORequired",
    "TCPAOBad",
    "TCPAOKeyNotFound",
    "TCPAOGood",
    "TCPAODroppedIcmps",
]


def _group(mib: Mapping[str, Any], name: str) -> Mapping[str, int]:
    g = mib.get(name) if isinstance(mib, Mapping) else None
    return g if g is not None else {}


def _pair(prefix: str, names: list[str], values: list[int]) -> list[str]:
    return [f"{prefix}: " + " ".join(names), f"{prefix}: " + " ".join(str(v) for v in values)]


def _columns(group: Mapping[str, int], order: list[str], fixed: Mapping[str, int] | None = None) -> tuple[list[str], list[int]]:
    """Linux's columns in Linux's order; counters the model keeps beyond them go last."""
    fixed = fixed or {}
    names = list(order) + sorted(k for k in group if k not in order and k not in fixed)
    values = [int(group[n]) if n in group else fixed.get(n, 0) for n in names]
    return names, values


def proc_net_snmp(mib: Mapping[str, Any], forwarding: bool = False, default_ttl: int = 64) -> str:
    """/proc/net/snmp: Ip, Icmp, [IcmpMsg], Tcp, Udp, UdpLite as name/value line pairs."""
    ip_names, ip_vals = _columns(_group(mib, "Ip"), IP_LIST)
    lines = _pair("Ip", ["Forwarding", "DefaultTTL"] + ip_names, [1 if forwarding else 2, default_ttl] + ip_vals)
    lines += _pair("Icmp", *_columns(_group(mib, "Icmp"), ICMP_LIST))
    msg = {k: v for k, v in _group(mib, "IcmpMsg").items() if v}
    if msg:
        lines += _pair("IcmpMsg", list(msg), list(msg.values()))
    lines += _pair("Tcp", *_columns(_group(mib, "Tcp"), TCP_LIST, TCP_FIXED))
    lines += _pair("Udp", *_columns(_group(mib, "Udp"), UDP_LIST))
    lines += _pair("UdpLite", *_columns(_group(mib, "UdpLite"), UDP_LIST))
    return "\n".join(lines) + "\n"


def netstat_TcpExt(mib: Mapping[str, Any]) -> str:
    """The TcpExt pair of /proc/net/netstat (snmp4_net_list order)."""
    return "\n".join(_pair("TcpExt", *_columns(_group(mib, "TcpExt"), TCPEXT_LIST))) + "\n"


_DEV_HEADER = ("Inter-|   Receive                                                |  Transmit\n"
               " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
               "drop fifo colls carrier compressed\n")


def _dev_stats(dev: Any) -> dict[str, int]:
    """dev_get_stats: the driver's net_device_stats plus the core's drops (dev->core_stats)."""
    for name in ("get_stats64", "dev_get_stats"):
        fn = getattr(dev, name, None)
        if callable(fn):
            return dict(vars(fn()))
    base = getattr(dev, "stats", dev)
    out = {k: v for k, v in vars(base).items() if isinstance(v, int)} if hasattr(base, "__dict__") else dict(base)
    core = getattr(dev, "core_stats", None)
    if core is not None:
        for k in ("rx_dropped", "tx_dropped", "rx_nohandler"):
            out[k] = out.get(k, 0) + getattr(core, k, 0)
    return out


def proc_net_dev(devs: Any) -> str:
    """/proc/net/dev for one device or several (dev_seq_printf_stats)."""
    if not isinstance(devs, Iterable) or isinstance(devs, (str, bytes)):
        devs = [devs]
    out = [_DEV_HEADER]
    for dev in devs:
        s = _dev_stats(dev)

        def v(*names: str, s: dict = s) -> int:
            return sum(num(s, n) for n in names)

        out.append(
            f"{get(dev, 'name') or 'eth0':>6s}: {v('rx_bytes'):7d} {v('rx_packets'):7d} {v('rx_errors'):4d} "
            f"{v('rx_dropped', 'rx_missed_errors'):4d} {v('rx_fifo_errors'):4d} "
            f"{v('rx_length_errors', 'rx_over_errors', 'rx_crc_errors', 'rx_frame_errors'):5d} "
            f"{v('rx_compressed'):10d} {v('multicast'):9d} "
            f"{v('tx_bytes'):8d} {v('tx_packets'):7d} {v('tx_errors'):4d} {v('tx_dropped'):4d} "
            f"{v('tx_fifo_errors'):4d} {v('collisions'):5d} "
            f"{v('tx_carrier_errors', 'tx_aborted_errors', 'tx_window_errors', 'tx_heartbeat_errors'):7d} "
            f"{v('tx_compressed'):10d}\n")
    return "".join(out)


__all__ = ["netstat_TcpExt", "proc_interrupts", "proc_net_dev", "proc_net_snmp", "proc_softirqs", "proc_stat",
           "softnet_stat"]
