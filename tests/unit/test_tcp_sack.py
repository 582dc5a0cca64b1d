"""Loss recovery as Linux 6.x does it with its default sysctls (tcp_sack 1, tcp_dsack 1,
tcp_recovery 1 = RACK, tcp_early_retrans 3 = TLP, tcp_frto 2): the SACK scoreboard, RACK's
loss detection and reordering timer, the tail loss probe, PRR, D-SACK undo and F-RTO.

The rig's peer is scapy: the SYN-ACK offers SACK_PERM (connect(sack=True)) and the ACKs carry
SACK blocks built by scapy. Expected figures come from the RFCs the functions implement (RFC
2018/2883 SACK and D-SACK, RFC 8985 RACK-TLP, RFC 6937 PRR, RFC 5682 F-RTO) and Linux's
constants (TCP_TIMEOUT_MIN 2 jiffies, TCP_RTO_MIN 200 ms, reordering 3)."""

from __future__ import annotations

from pathlib import Path

import dpkt
import pytest
from tcp_rig import Rig

from hilnic.kernel.env import MS
from hilnic.net.core.sock import ICSK_TIME_LOSS_PROBE, ICSK_TIME_REO_TIMEOUT, TCP_CA_Loss, TCP_CA_Open, TCP_CA_Recovery
from hilnic.net.ipv4.tcp_output import TCPCB_LOST, TCPCB_SACKED_ACKED
from hilnic.net.socket import SOL_TCP, TCP_CONGESTION

MSS = 1448
RTT_MS = 10
LINUX_REF = Path(__file__).resolve().parents[1] / "linux_ref"


def _sack_rig(monkeypatch, ts: bool = True, cc: str = "reno") -> Rig:
    """A SACK connection with a 10 ms handshake RTT (srtt 10 ms, min_rtt 10 ms) and a large
    window. Reno by default, whose ssthresh is half of cwnd, as in RFC 6937's PRR examples."""
    rig = Rig(monkeypatch)
    rig.sock.setsockopt(SOL_TCP, TCP_CONGESTION, cc)
    rig.connect(rtt_ms=RTT_MS, sack=True, ts=ts, window_update=1024)
    return rig


def _send(rig: Rig, nbytes: int) -> int:
    """Send nbytes; the first sequence number."""
    rig.do(rig.sock.send(bytes(nbytes)))
    return rig.ip.sent[0].tcp.seq


def _mib(rig: Rig, name: str) -> int:
    return rig.host.mib["TcpExt"][name]


def _segments_since(rig: Rig, n: int) -> list[tuple[int, int]]:
    """(seq, len) of the segments sent from index n on (a GSO skb counts as its segments)."""
    out = []
    for s in rig.ip.sent[n:]:
        seq, length = s.tcp.seq, len(s.payload)
        step = s.gso_size or length
        out += [(seq + off, min(step, length - off)) for off in range(0, max(length, 1), step)] if length else []
    return out


def test_syn_offers_sack_perm_in_linuxs_option_layout(monkeypatch):
    """tcp_syn_options: MSS, SACK_PERM+TS in one word, NOP, WS: the layout of the SYN a real
    6.18 kernel sent in tests/linux_ref (read with dpkt)."""
    with open(LINUX_REF / "tcp_bulk_64k_cubic_rtt0.pcap", "rb") as f:
        _ts, buf = next(iter(dpkt.pcap.Reader(f)))
    syn = dpkt.ethernet.Ethernet(buf).data.data
    assert syn.flags & dpkt.tcp.TH_SYN
    real_kinds = [kind for kind, _ in dpkt.tcp.parse_opts(syn.opts)]
    rig = Rig(monkeypatch)
    rig.spawn(rig.sock.connect(("10.0.0.2", 5001)))
    rig.run(0.1)
    ours = dpkt.tcp.TCP(bytes(rig.ip.sent[0].pkt.payload))
    assert [kind for kind, _ in dpkt.tcp.parse_opts(ours.opts)] == real_kinds == [2, 4, 8, 1, 3]
    assert len(ours.opts) == len(syn.opts) == 20


def test_tcp_sacktag_write_queue_one_loss_in_ten_fast_retransmit_not_rto(monkeypatch):
    """Segment 2 of a flight of 10 is lost: the SACKs of 3, 4 and 5 tag the scoreboard
    (tcp_sacktag_write_queue), RACK marks 2 lost once `reordering` (3) packets are SACKed, and
    tcp_fastretrans_alert enters Recovery: segment 2 alone is retransmitted, no RTO."""
    rig = _sack_rig(monkeypatch)
    sk = rig.sk
    first = _send(rig, 10 * MSS)
    n = len(rig.ip.sent)
    rig.run(RTT_MS)
    rig.inject("A", ack=first + MSS)  # segment 1
    for k in (3, 4):
        rig.sack(first + MSS, [(first + 2 * MSS, first + k * MSS)])
    assert sk.sacked_out == 2 and sk.lost_out == 0 and sk.icsk_ca_state != TCP_CA_Recovery
    assert sk.icsk_pending == ICSK_TIME_REO_TIMEOUT  # not overdue yet: the reordering timer waits
    assert len(rig.ip.sent) == n
    rig.sack(first + MSS, [(first + 2 * MSS, first + 5 * MSS)])
    assert sk.icsk_ca_state == TCP_CA_Recovery and _mib(rig, "TCPSackRecovery") == 1
    assert (sk.sacked_out, sk.lost_out, sk.retrans_out, sk.packets_out) == (3, 1, 1, 9)
    rtx = rig.ip.sent[n]
    assert (rtx.tcp.seq, len(rtx.payload)) == (first + MSS, MSS)
    assert _mib(rig, "TCPFastRetrans") == 1 and _mib(rig, "TCPTimeouts") == 0
    tagged = [s.cb["sacked"] for s in sk.tcp_rtx_queue]
    assert tagged[0] & TCPCB_LOST and all(t & TCPCB_SACKED_ACKED for t in tagged[1:4])
    rig.ack_all()
    assert sk.icsk_ca_state == TCP_CA_Open and sk.sacked_out == sk.lost_out == sk.retrans_out == 0
    # tcp_end_cwnd_reduction sets cwnd to Reno's ssthresh (10/2), then the same ACK's six
    # delivered packets grow it once in congestion avoidance
    assert sk.snd_ssthresh == 5 and sk.snd_cwnd == 6


def test_tcp_rack_reo_timeout_marks_a_hole_lost_after_the_reordering_window(monkeypatch):
    """One SACK above a hole: not enough for RACK at once (reo_wnd = min_rtt/4 = 2.5 ms), so
    the reordering timer is armed for usecs_to_jiffies(2500) + TCP_TIMEOUT_MIN = 5 jiffies; when
    it fires (tcp_rack_reo_timeout) the hole is lost and retransmitted, long before the RTO."""
    rig = _sack_rig(monkeypatch)
    sk = rig.sk
    first = _send(rig, 10 * MSS)
    n = len(rig.ip.sent)
    rig.run(RTT_MS)
    rig.sack(first, [(first + MSS, first + 2 * MSS)])
    t_sack = rig.env.now()
    assert sk.icsk_pending == ICSK_TIME_REO_TIMEOUT and sk.icsk_timeout - sk.kernel.jiffies == 5
    rig.run(4.9)
    assert len(rig.ip.sent) == n
    rig.run(0.2)
    rtx = rig.ip.sent[n]
    assert rtx.tcp.seq == first and len(rtx.payload) == MSS and rtx.t - t_sack <= 5 * MS
    assert sk.icsk_ca_state == TCP_CA_Recovery and _mib(rig, "TCPTimeouts") == 0


def test_tcp_send_loss_probe_repairs_a_tail_loss_after_two_srtt(monkeypatch):
    """The last two segments of 10 are lost. The ACK of the first eight arms the loss probe
    (tcp_schedule_loss_probe: 2·srtt + TCP_TIMEOUT_MIN with more than one packet out); at
    expiry tcp_send_loss_probe retransmits the last segment; its SACK lets RACK mark the 9th
    lost and the fast recovery repairs it: no RTO."""
    rig = _sack_rig(monkeypatch)
    sk = rig.sk
    first = _send(rig, 10 * MSS)
    n = len(rig.ip.sent)
    rig.run(RTT_MS)
    rig.inject("A", ack=first + 8 * MSS)
    t_ack = rig.env.now()
    srtt_ms = (sk.srtt_us >> 3) / 1000
    assert sk.icsk_pending == ICSK_TIME_LOSS_PROBE
    assert sk.icsk_timeout - sk.kernel.jiffies == -(-(sk.srtt_us >> 2) // 1000) + 2
    rig.run(60)
    probe = rig.ip.sent[n]
    assert (probe.tcp.seq, len(probe.payload)) == (first + 9 * MSS, MSS)  # the last segment
    assert 2 * srtt_ms <= (probe.t - t_ack) / MS <= 2 * srtt_ms + 3
    assert _mib(rig, "TCPLossProbes") == 1 and sk.tlp_high_seq == sk.snd_nxt
    rig.run(RTT_MS)
    rig.sack(first + 8 * MSS, [(first + 9 * MSS, first + 10 * MSS)])
    rtx = rig.ip.sent[n + 1]
    assert (rtx.tcp.seq, len(rtx.payload)) == (first + 8 * MSS, MSS)
    assert _mib(rig, "TCPSackRecovery") == 1 and _mib(rig, "TCPTimeouts") == 0
    rig.ack_all()
    assert sk.packets_out == 0 and sk.icsk_ca_state == TCP_CA_Open


def test_tcp_process_tlp_ack_counts_a_repaired_loss_and_reduces_cwnd_once(monkeypatch):
    """A probe retransmitted the only lost segment; the ACK that goes beyond tlp_high_seq (more
    data was sent meanwhile) proves the loss: cwnd is reduced once (CWR) and
    TCPLossProbeRecovery counted."""
    rig = _sack_rig(monkeypatch)
    sk = rig.sk
    first = _send(rig, 10 * MSS)
    rig.run(RTT_MS)
    rig.inject("A", ack=first + 8 * MSS)
    rig.run(60)  # the probe: segment 10 again
    assert _mib(rig, "TCPLossProbes") == 1 and sk.tlp_retrans
    rig.inject("A", ack=first + 10 * MSS)  # 9 and 10 (the probe) arrived: ACK == tlp_high_seq
    assert sk.tlp_high_seq and _mib(rig, "TCPLossProbeRecovery") == 0
    rig.do(rig.sock.send(bytes(MSS)))
    rig.ack_all()
    assert _mib(rig, "TCPLossProbeRecovery") == 1 and sk.tlp_high_seq == 0
    assert sk.snd_cwnd == sk.snd_ssthresh


def test_tcp_cwnd_reduction_prr_sends_one_segment_per_two_delivered(monkeypatch):
    """RFC 6937 with pipe above ssthresh: sndcnt = ceil(prr_delivered·ssthresh/RecoverFS) −
    prr_out. Reno's ssthresh is 5 of a prior cwnd of 10, so after the retransmission one new
    segment leaves for every second SACKed one."""
    rig = _sack_rig(monkeypatch)
    sk = rig.sk
    first = _send(rig, 30 * MSS)  # 10 in flight, more queued
    rig.run(RTT_MS)
    rig.inject("A", ack=first + MSS)
    assert sk.snd_cwnd == 11  # the ACK of segment 1 grew it (slow start)
    sent_per_ack = []
    for k in range(3, 10):
        n = len(rig.ip.sent)
        rig.sack(first + MSS, [(first + 2 * MSS, first + k * MSS)])
        sent_per_ack.append(len(_segments_since(rig, n)))
        if sk.icsk_ca_state == TCP_CA_Recovery:
            # RFC 6937 while pipe > ssthresh: prr_out = ceil(prr_delivered · ssthresh / RecoverFS)
            assert sk.prr_out == -(-(sk.prr_delivered * sk.snd_ssthresh) // sk.prior_cwnd)
    assert sk.prior_cwnd == 11 and sk.snd_ssthresh == 5
    # k=3,4: Disorder, the SACKs free room for new data, which TSO deferral
    # (tcp_tso_should_defer) sends once two segments fit; k=5: Recovery and the
    # retransmission; then one segment for every second delivered (5/11 of them)
    assert sent_per_ack == [0, 2, 1, 0, 1, 0, 1]
    assert (sk.prr_delivered, sk.prr_out) == (5, 3)


@pytest.mark.parametrize("cc", ["reno", "cubic"])
def test_tcp_try_undo_dsack_restores_cwnd_after_a_spurious_fast_retransmit(monkeypatch, cc):
    """Segment 2 was only reordered: RACK retransmits it after three SACKs (cwnd reduced),
    then the original arrives (cumulative ACK) and the retransmission's duplicate comes back as
    a D-SACK (below the ACK, RFC 2883). Every retransmission D-SACKed: tcp_try_undo_dsack puts
    cwnd and ssthresh back (cubic through its undo_cwnd hook, tcp_reno_undo_cwnd)."""
    rig = _sack_rig(monkeypatch, cc=cc)
    sk = rig.sk
    first = _send(rig, 10 * MSS)
    rig.run(RTT_MS)
    rig.inject("A", ack=first + MSS)
    cwnd0, ssthresh0 = sk.snd_cwnd, sk.snd_ssthresh
    for k in (3, 4, 5):
        rig.sack(first + MSS, [(first + 2 * MSS, first + k * MSS)])
    assert sk.icsk_ca_state == TCP_CA_Recovery and sk.snd_cwnd < cwnd0 and sk.undo_retrans == 1
    rig.inject("A", ack=first + 5 * MSS)  # the delayed original of segment 2 filled the hole
    rig.sack(first + 5 * MSS, [(first + MSS, first + 2 * MSS)])  # D-SACK: the retransmission was a duplicate
    assert _mib(rig, "TCPDSACKRecv") == 1 and _mib(rig, "TCPDSACKUndo") == 1
    assert sk.undo_retrans == 0 and sk.undo_marker == 0
    assert sk.snd_cwnd == cwnd0 and sk.snd_ssthresh == ssthresh0
    assert sk.icsk_ca_state != TCP_CA_Recovery


def test_frto_undoes_a_spurious_rto(monkeypatch):
    """F-RTO (tcp_frto 2, RFC 5682 with SACK): the ACKs were only late. After the RTO the
    head is retransmitted (Loss, cwnd 1); the next ACK also acknowledges never-retransmitted
    data (FLAG_ORIG_SACK_ACKED), so the timeout was spurious: tcp_try_undo_loss restores cwnd
    and the state returns to Open. Timestamps off, so Eifel's check cannot decide first."""
    rig = _sack_rig(monkeypatch, ts=False)
    sk = rig.sk
    mss = 1460  # no timestamp option
    first = _send(rig, 20 * mss)  # 10 in flight, 10 queued
    cwnd0 = sk.snd_cwnd
    rig.run(300)  # a loss probe at 2·srtt first (new data), then the RTO
    assert _mib(rig, "TCPLossProbes") == 1
    assert _mib(rig, "TCPTimeouts") == 1 and sk.icsk_ca_state == TCP_CA_Loss and sk.frto
    assert sk.snd_cwnd == 1
    rig.inject("A", ack=first + 2 * mss, options=[])  # the originals of 1 and 2, late
    assert _mib(rig, "TCPSpuriousRTOs") == 1 and _mib(rig, "TCPLossUndo") == 1
    # cwnd back to its value before the RTO, then slow start for the 2 packets this ACK delivered
    assert sk.icsk_ca_state == TCP_CA_Open and sk.snd_cwnd == cwnd0 + 2 and sk.lost_out == 0
    assert sk.snd_ssthresh == 0x7FFFFFFF  # prior_ssthresh: still in initial slow start


def test_rto_in_recovery_counts_tcpsackrecoveryfail_and_never_resends_sacked_data(monkeypatch):
    """Segments 1-3 lost, 4 SACKed: the reordering timer starts the recovery, whose
    retransmissions are lost too; the RTO then fires in Recovery (TCPSackRecoveryFail) and marks
    the un-SACKed skbs lost but keeps the SACKed one (no reneging): it is never resent."""
    rig = _sack_rig(monkeypatch)
    sk = rig.sk
    first = _send(rig, 4 * MSS)
    rig.run(RTT_MS)
    n = len(rig.ip.sent)
    rig.sack(first, [(first + 3 * MSS, first + 4 * MSS)])
    rig.run(6)
    # PRR from an empty pipe: one retransmission per delivered packet (here one)
    assert sk.icsk_ca_state == TCP_CA_Recovery and sk.lost_out == 3 and sk.retrans_out == 1
    rig.run(sk.icsk_rto + 1)  # the retransmissions get no answer
    assert _mib(rig, "TCPTimeouts") == 1 and _mib(rig, "TCPSackRecoveryFail") == 1
    assert sk.icsk_ca_state == TCP_CA_Loss
    sacked = [s for s in sk.tcp_rtx_queue if s.cb["sacked"] & TCPCB_SACKED_ACKED]
    assert len(sacked) == 1 and sacked[0].cb["seq"] == first + 3 * MSS and sk.sacked_out == 1
    resent = _segments_since(rig, n)
    assert resent and all(seq < first + 3 * MSS for seq, _ in resent)  # never the SACKed one
