"""Linux-format reports, fed small fakes (duck-typed like the real objects)."""

from __future__ import annotations

import re
from collections import defaultdict, deque
from types import SimpleNamespace as NS

from hilnic.kernel import ftrace
from hilnic.kernel.ftrace import Tracer, traced
from hilnic.trace import (
    bql,
    collect_stats,
    copy_accounting,
    ethtool_S,
    function_graph,
    netstat_TcpExt,
    proc_interrupts,
    proc_net_dev,
    proc_net_snmp,
    proc_softirqs,
    proc_stat,
    softnet_stat,
    sprint_size,
    tc_s_qdisc,
)
from hilnic.trace.procfs import TCPEXT_LIST


def fake_kernel():
    sd = NS(processed=0x1234, dropped=2, time_squeeze=7, received_rps=0, flow_limit_count=0,
            input_pkt_queue=deque([1, 2, 3]))
    irqs = {19: NS(irq=19, name="eth0-TxRx-0", count=4321, unhandled=0), 0: NS(irq=0, name="timer", count=7, unhandled=0)}
    # cpustat: ps of us, sy, si, hi; 10 ms have gone
    return NS(softnet=sd, softirq_count=[0, 11, 222, 3333, 0, 0, 5, 0, 0, 0], irqs=irqs,
              cpustat=[1_000_000, 2_000_000_000, 3_000_000_000, 500_000_000], env=NS(now=lambda: 10 * 10**9))


def test_proc_stat_cpu_columns_in_kernel_order_and_softirq_line():
    """fs/proc/stat.c: cpu user nice system idle iowait irq softirq steal guest guest_nice
    (here in ns), then softirq total and one count per vector."""
    text = proc_stat(fake_kernel())
    lines = text.splitlines()
    cpu = [int(c) for c in lines[0].split()[1:]]
    assert lines[0].startswith("cpu  ") and lines[1].startswith("cpu0 ") and len(cpu) == 10
    assert cpu == [1_000, 0, 2_000_000, 10_000_000 - 1_000 - 2_000_000 - 3_000_000 - 500_000, 0, 500_000, 3_000_000,
                   0, 0, 0]
    sirq = [int(c) for c in lines[2].split()[1:]]
    assert lines[2].startswith("softirq ") and sirq == [3571, 0, 11, 222, 3333, 0, 0, 5, 0, 0, 0]
    assert "20.0 sy" in lines[3] and "30.0 si" in lines[3] and "5.0 hi" in lines[3]


def test_softnet_stat_15_hex_columns_in_6_9_order():
    line = softnet_stat(fake_kernel())
    cols = line.split()
    assert len(cols) == 15 and all(re.fullmatch(r"[0-9a-f]{8}", c) for c in cols) and line.endswith("\n")
    v = [int(c, 16) for c in cols]
    assert v[:3] == [0x1234, 2, 7]  # processed, dropped, time_squeeze
    assert v[3:9] == [0] * 6
    assert v[11:] == [3, 0, 3, 0]  # backlog length, cpu, input_qlen, process_qlen


def test_proc_softirqs_table():
    text = proc_softirqs(fake_kernel())
    lines = text.splitlines()
    assert lines[0].index("CPU0") == 20
    rows = {ln.split(":")[0].strip(): int(ln.split(":")[1]) for ln in lines[1:]}
    assert list(rows) == ["HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"]
    assert (rows["NET_TX"], rows["NET_RX"], rows["TASKLET"]) == (222, 3333, 5)
    assert all(len(ln) == 24 for ln in lines[1:])  # "%12s:" + " %10u"


def test_proc_interrupts_rows():
    lines = proc_interrupts(fake_kernel()).splitlines()
    assert lines[0] == " " * 11 + "CPU0       "
    assert lines[1] == "  0:          7   IO-APIC   0-fasteoi   timer"
    assert lines[2] == " 19:       4321   IO-APIC  19-fasteoi   eth0-TxRx-0"
    assert lines[3:] == ["ERR:          0", "MIS:          0"]


def test_tc_s_qdisc_pfifo_fast():
    q = NS(kind="pfifo_fast", bstats=NS(bytes=151400, packets=100),
           qstats=NS(drops=1, overlimits=0, requeues=35, backlog=2896, qlen=2))
    assert tc_s_qdisc(NS(name="eth0", qdisc=q)) == (
        "qdisc pfifo_fast 0: root refcnt 2 bands 3 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1\n"
        " Sent 151400 bytes 100 pkt (dropped 1, overlimits 0 requeues 35)\n"
        " backlog 2896b 2p requeues 35\n")


def test_tc_finds_qdisc_on_txq_and_class_name():
    class PfifoFast:
        bstats = NS(bytes=0, packets=0)
        qstats = NS(drops=0, overlimits=0, requeues=0, backlog=0)
        q = NS(qlen=0)

    text = tc_s_qdisc(NS(name="eth0", _tx=[NS(qdisc=PfifoFast())]))
    assert text.startswith("qdisc pfifo_fast 0: root") and " backlog 0b 0p requeues 0" in text


def test_sprint_size_like_iproute2():
    assert [sprint_size(x) for x in (0, 1514, 10240, 10250, 3 << 20)] == ["0b", "1514b", "10Kb", "10Kb", "3Mb"]


def test_ethtool_S():
    assert ethtool_S({"tx_packets": 10, "tx_queue_0_restart": 1}) == (
        "NIC statistics:\n     tx_packets: 10\n     tx_queue_0_restart: 1\n")


def _pairs(text: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    lines = text.splitlines()
    assert len(lines) % 2 == 0
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        p, n = names.split(": ")
        p2, v = values.split(": ")
        assert p == p2
        n, v = n.split(), v.split()
        assert len(n) == len(v)
        out[p] = dict(zip(n, map(int, v), strict=False))
    return out


def test_proc_net_snmp_column_order_and_values():
    mib = defaultdict(dict)
    mib["Ip"].update(OutRequests=12, FragOKs=1, FragCreates=3)
    mib["Tcp"].update(OutSegs=45, RetransSegs=2, CurrEstab=1)
    mib["Udp"].update(OutDatagrams=1)
    mib["Tcp"]["ModelOnlyCounter"] = 9
    text = proc_net_snmp(mib)
    lines = text.splitlines()
    assert lines[0] == ("Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos "
                        "InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs "
                        "ReasmFails FragOKs FragFails FragCreates OutTransmits")
    assert [ln.split(":")[0] for ln in lines[::2]] == ["Ip", "Icmp", "Tcp", "Udp", "UdpLite"]
    t = _pairs(text)
    assert (t["Ip"]["Forwarding"], t["Ip"]["DefaultTTL"], t["Ip"]["OutRequests"], t["Ip"]["FragCreates"]) == (2, 64, 12, 3)
    assert list(t["Tcp"])[:4] == ["RtoAlgorithm", "RtoMin", "RtoMax", "MaxConn"]
    assert (t["Tcp"]["RtoMin"], t["Tcp"]["MaxConn"], t["Tcp"]["OutSegs"], t["Tcp"]["RetransSegs"]) == (200, -1, 45, 2)
    assert list(t["Tcp"])[-1] == "ModelOnlyCounter"  # counters Linux lacks go after Linux's columns
    assert t["Udp"]["OutDatagrams"] == 1


def test_netstat_tcpext():
    mib = {"TcpExt": {"TCPAutoCorking": 4, "TCPOrigDataSent": 100, "TCPSpuriousRtxHostQueues": 1}}
    t = _pairs(netstat_TcpExt(mib))["TcpExt"]
    assert next(iter(t)) == "SyncookiesSent" and list(t)[-1] == "TCPAODroppedIcmps" and len(t) == len(TCPEXT_LIST)
    assert (t["TCPAutoCorking"], t["TCPOrigDataSent"], t["TCPSpuriousRtxHostQueues"], t["DelayedACKs"]) == (4, 100, 1, 0)


def test_bql_sysfs_files():
    dql = NS(limit=3028, inflight=1514, limit_max=1879048192, limit_min=0, hold_time=1000)
    text = bql(NS(name="eth0", _tx=[NS(dql=dql)]))
    files = dict(ln.rsplit(":", 1) for ln in text.splitlines())
    pre = "/sys/class/net/eth0/queues/tx-0/byte_queue_limits/"
    assert {k[len(pre):]: int(v) for k, v in files.items()} == {
        "hold_time": 1000, "inflight": 1514, "limit": 3028, "limit_max": 1879048192, "limit_min": 0,
        "stall_cnt": 0, "stall_max": 0, "stall_thrs": 0}


def test_proc_net_dev_columns():
    stats = NS(tx_bytes=151400, tx_packets=100, tx_dropped=3, rx_bytes=6600, rx_packets=100)
    lines = proc_net_dev(NS(name="eth0", stats=stats)).splitlines()
    assert lines[0].startswith("Inter-|   Receive") and lines[1].startswith(" face |bytes")
    name, rest = lines[2].split(":")
    assert name == "  eth0"
    assert [int(x) for x in rest.split()] == [6600, 100, 0, 0, 0, 0, 0, 0, 151400, 100, 0, 3, 0, 0, 0, 0]


def test_copy_accounting_rows():
    s = NS(user_copy_bytes=65536, clones=45, fclone_hits=44, pskb_copies=1, skb_copies=0, copy_bytes=66,
           frag_skbs=3, csum_bytes=3008, allocs=50, frees=47, live=3)
    text = copy_accounting(s)
    row = {ln.split("  ")[1].strip(): ln.rsplit("  ", 1)[1] for ln in text.splitlines()[1:]}
    assert row["1. user -> kernel copy"] == "65536 bytes"
    assert row["2. shallow clones (skb_clone)"] == "45 (fclone companion 44, new sk_buff 1)"
    assert row["3. extra skbs for fragments/segments"] == "3"
    assert row["software checksum"] == "3008 bytes"


def test_function_graph_nesting_leaf_and_durations():
    now = [0]
    tr = Tracer(clock=lambda: now[0], context=lambda: "softirq")

    @traced
    def inner():
        now[0] += 15_000_000  # 15 us

    @traced
    def outer():
        ftrace.trace_mark("hello")
        inner()

    ftrace.set_tracer(tr)
    try:
        now[0] = 12_345_678  # 12.345678 us
        outer()
    finally:
        ftrace.set_tracer(None)
    lines = function_graph(tr).splitlines()
    assert lines[0] == "# tracer: function_graph"
    body = [ln for ln in lines if not ln.startswith("#")]
    assert len(body) == 4
    cells = [[c.strip() for c in ln.split("|")] for ln in body]
    assert [c[0] for c in cells] == ["12.345", "12.345", "12.345", "27.345"]
    assert all(c[1] == "0)  softirq" for c in cells)
    assert [c[2] for c in cells] == ["", "", "+ 15.000 us", "+ 15.000 us"]
    texts = [ln.split("|", 3)[3] for ln in body]
    assert texts == ["  outer() {", "    /* hello */", "    inner();", "  } /* outer */"]


def test_collect_stats_has_every_section():
    dev = NS(name="eth0", qdisc=NS(kind="pfifo_fast", bstats=NS(bytes=1, packets=1),
                                   qstats=NS(drops=0, overlimits=0, requeues=0, backlog=0, qlen=0)),
             _tx=[NS(dql=NS(limit=0, inflight=0))], stats=NS(tx_packets=1))
    host = NS(kernel=fake_kernel(), mib={"Tcp": {"OutSegs": 1}}, devices={"eth0": dev}, sysctl=NS(ip_default_ttl=64))
    peer = NS(counters=lambda: {"frames_rx": 1})
    text = collect_stats(host, dev, {"tx_packets": 1}, skb_stats=NS(user_copy_bytes=5), peer=peer)
    for title in ("/proc/net/softnet_stat", "/proc/stat", "/proc/softirqs", "/proc/interrupts", "tc -s qdisc show dev eth0",
                  "byte_queue_limits", "ethtool -S eth0", "/proc/net/dev", "/proc/net/snmp", "TcpExt",
                  "copy accounting", "peer"):
        assert title in text, title
    assert "     tx_packets: 1" in text and "  frames_rx: 1" in text
