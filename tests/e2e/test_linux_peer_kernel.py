"""`hilnic run --peer linux`: this machine's own kernel as the peer, checked by the kernel itself.

A real socket in a network namespace receives the run's payload and checks it byte for byte;
the namespace's counters (/proc/net/snmp and /proc/net/netstat, what `nstat -az` reads) must
show the frames arrived intact (no checksum or header error) and that the path did what it
should (InSegs, ReasmOKs, the out-of-order queue under loss moved). Every run goes through
the `hilnic` command as a child process, and afterwards neither its namespace nor its
receiving process may be left, whether it succeeded, failed or was stopped by a signal.

Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN): skipped with that reason otherwise; on CI
(which runs as root) a missing privilege fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dpkt
import jsonschema
import pytest

from hilnic.run import load_schema
from hilnic.wire.netns import cleanup_stale, missing_privileges, namespaces

ROOT = Path(__file__).resolve().parents[2]
KERNEL_MAC = bytes.fromhex("020000000002")


@pytest.fixture(autouse=True)
def _root():
    problem = missing_privileges()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"{problem} (CI runs as root: the Linux peer's tests must run there)")
        pytest.skip(problem)


def _receivers(pid: int) -> list[int]:
    """Receiving processes of the run with pid `pid` (their argv names the namespace)."""
    tag = f"hilnic-{pid}-".encode()
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                cmd = Path(f"/proc/{d}/cmdline").read_bytes()
            except OSError:
                continue
            if b"hilnic.wire.ns_receiver" in cmd and tag in cmd:
                found.append(int(d))
    return found


def _established(ns: str) -> bool:
    """A TCP connection is established in namespace `ns` (the kernel's own view, ss)."""
    r = subprocess.run(["ss", "-N", ns, "-tnH", "state", "established"], capture_output=True, text=True)
    return bool(r.stdout.strip())


def _ours(pid: int) -> list[str]:
    return [n for n in namespaces() if n.startswith(f"hilnic-{pid}-")]


def _assert_nothing_left(pid: int) -> None:
    assert not _ours(pid), f"namespaces left behind: {_ours(pid)}"
    assert not _receivers(pid), f"receiving processes left behind: {_receivers(pid)}"


def _run(out: Path, *args: str, timeout: float = 120) -> tuple[subprocess.CompletedProcess, dict]:
    p = subprocess.Popen([sys.executable, "-m", "hilnic.cli.main", "run", "--peer", "linux", "--out", str(out),
                          *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                         cwd=ROOT)
    try:
        stdout, stderr = p.communicate(timeout=timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        cleanup_stale()
    _assert_nothing_left(p.pid)
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    if summary:
        jsonschema.validate(summary, load_schema(), cls=jsonschema.Draft202012Validator)
    return subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr), summary


def _kernel_frames(pcap: Path) -> tuple[int, int]:
    """(frames from the kernel's MAC, frames from the host) in the run's pcap (dpkt)."""
    k = h = 0
    with open(pcap, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            if dpkt.ethernet.Ethernet(buf).src == KERNEL_MAC:
                k += 1
            else:
                h += 1
    return k, h


def test_tcp_with_loss_reaches_a_real_socket_byte_exact(tmp_path):
    r, s = _run(tmp_path / "run", "--sim", "model", "--bytes", "256K", "--loss", "0.02", "--seed", "3")
    assert r.returncode == 0, r.stderr
    lp = s["linux_peer"]
    rcv = lp["receiver"]
    assert (rcv["bytes"], rcv["match"], rcv["eof"]) == (256 << 10, True, True)
    assert s["config"]["peer"] == "linux" and s["ok"]
    # loss happened on the way in, and the host recovered from it
    assert lp["dropped_by_loss"] > 0 and s["tcp"]["retrans_segs"] > 0
    c = lp["counters"]
    # the kernel got every TCP frame written to it, intact, and queued the ones after a hole
    assert c["Tcp"]["InSegs"] == lp["to_kernel"]["tcp"] > 180
    for g, n in (("Tcp", "InCsumErrors"), ("Tcp", "InErrs"), ("Ip", "InHdrErrors"), ("Ip", "InAddrErrors"),
                 ("IpExt", "InCsumErrors"), ("Ip", "InDiscards")):
        assert c[g][n] == 0, (g, n)
    assert c["TcpExt"]["TCPOFOQueue"] > 0 and lp["from_kernel"]["dupack"] > 0
    # both sides run tcp_sack=1: the kernel's SYN-ACK permits SACK, its dupacks carry SACK
    # blocks, and the host repairs every hole by SACK fast retransmit, never by timeout
    assert lp["kernel_options"]["sack_perm"] and lp["sack_blocks"] > 0
    assert s["tcp"]["fast_retrans"] == s["tcp"]["retrans_segs"] and s["tcp"]["timeouts"] == 0
    # its answers are in the two-way pcap, as many as it sent
    k, h = _kernel_frames(tmp_path / "run" / "wire.pcap")
    assert k == lp["frames_from_kernel"] == s["files"]["pcap_peer_frames"]
    assert h == s["frames"]
    assert "its TCP socket received 262,144 of 262,144 bytes, byte-exact" in r.stdout
    assert "kernel timing" in r.stdout


def test_fragmented_udp_is_reassembled_by_the_kernel(tmp_path):
    # 6000-byte datagrams over a 1500-byte MTU: 5 fragments each
    r, s = _run(tmp_path / "run", "--sim", "model", "--proto", "udp", "--writes", "6", "--write-size", "6000")
    assert r.returncode == 0, r.stderr
    lp = s["linux_peer"]
    rcv, c = lp["receiver"], lp["counters"]
    assert (rcv["datagrams"], rcv["datagrams_expected"], rcv["unmatched"], rcv["bytes"]) == (6, 6, 0, 36000)
    assert rcv["match"]
    assert lp["to_kernel"]["udp"] == 30
    assert (c["Ip"]["ReasmReqds"], c["Ip"]["ReasmOKs"], c["Ip"]["ReasmFails"]) == (30, 6, 0)
    assert c["Udp"]["InDatagrams"] == 6
    for g, n in (("Udp", "InCsumErrors"), ("Udp", "InErrors"), ("Ip", "InHdrErrors"), ("IpExt", "InCsumErrors"),
                 ("Ip", "InDiscards")):
        assert c[g][n] == 0, (g, n)


def test_tcp_on_icarus_with_loss(tmp_path):
    """The same path from the RTL: the simulator process inherits the TAP and the pipes."""
    r, s = _run(tmp_path / "run", "--sim", "icarus", "--bytes", "64K", "--loss", "0.03", timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    lp = s["linux_peer"]
    assert lp["receiver"]["match"] and lp["receiver"]["bytes"] == 64 << 10
    assert s["tcp"]["retrans_segs"] > 0
    c = lp["counters"]
    assert c["Tcp"]["InSegs"] == lp["to_kernel"]["tcp"]
    assert c["Tcp"]["InCsumErrors"] == c["Tcp"]["InErrs"] == c["Ip"]["InHdrErrors"] == 0


def test_a_failed_run_leaves_nothing_behind(tmp_path):
    # the kernel's answers are 100 ms away in simulated time (its ARP reply too), the run's bound 60 ms
    r, s = _run(tmp_path / "run", "--sim", "model", "--rtt", "100ms", "--sim-limit-ms", "60")
    assert r.returncode == 1
    assert "did not finish within 60 ms" in s["error"]
    lp = s["linux_peer"]
    assert lp["to_kernel"] == {"arp": 1} and lp["from_kernel"] == {"arp_reply": 1}
    assert lp["receiver"]["error"] == "no connection before the run ended"  # it reported, then was stopped


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_leaves_nothing_behind(tmp_path, sig, status):
    out = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-m", "hilnic.cli.main", "run", "--peer", "linux", "--sim", "model",
                          "--bytes", "64M", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, stdin=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not (_ours(p.pid) and _receivers(p.pid) and _established(_ours(p.pid)[0])):  # into the transfer
            assert p.poll() is None, p.communicate()
            assert time.monotonic() < deadline, "no namespace, receiver or connection appeared"
            time.sleep(0.05)
        time.sleep(0.5)
        p.send_signal(sig)
        _stdout, stderr = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        cleanup_stale()
    assert p.returncode == status, stderr
    _assert_nothing_left(p.pid)
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "interrupted" and s["linux_peer"]["frames_to_kernel"] > 0


def test_without_privileges_one_line_and_exit_2(tmp_path):
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    r = subprocess.run(["setpriv", "--bounding-set", "-net_admin,-sys_admin", sys.executable, "-m", "hilnic.cli.main",
                        "run", "--peer", "linux", "--sim", "model", "--out", str(tmp_path / "run")],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs root" in lines[0] and "CAP_NET_ADMIN and CAP_SYS_ADMIN" in lines[0], r.stderr
    assert not (tmp_path / "run" / "summary.json").exists()


def test_the_kernel_counts_bad_checksums_and_the_run_says_so():
    """What the counter check is for: a frame with a bad TCP checksum and one with a bad IP
    header checksum (the FCS good) reach the kernel, which counts and drops them."""
    from hilnic.hw.backend import WireFrame
    from hilnic.kernel.env import VirtualEnv
    from hilnic.run.config import RunConfig
    from hilnic.run.linux_peer import check_delivery, kernel_errors
    from hilnic.wire.linux_peer import LinuxPeer
    from hilnic.wire.netns import HOST_IP, PEER_IP, NamespaceConfig, PeerNamespace
    from hilnic.wire.packets import ETH_P_IP, IP_DF, IPPROTO_TCP, TCP_SYN, build_eth, build_ipv4, build_tcp, fcs, ip_bytes

    src, dst = ip_bytes(HOST_IP), ip_bytes(PEER_IP)
    host_mac = bytes.fromhex("020000000001")
    tcp = bytearray(build_tcp(src, dst, 40000, 5001, 1000, 0, TCP_SYN, 65535))
    tcp[16] ^= 0xFF  # the TCP checksum
    bad_tcp = build_ipv4(src, dst, IPPROTO_TCP, bytes(tcp), 1, flags_frag=IP_DF)
    bad_ip = bytearray(build_ipv4(src, dst, IPPROTO_TCP, build_tcp(src, dst, 40001, 5001, 1, 0, TCP_SYN, 65535), 2,
                                  flags_frag=IP_DF))
    bad_ip[10] ^= 0xFF  # the header checksum
    with PeerNamespace(NamespaceConfig(proto="tcp", nbytes=100, seed=1)) as ns:
        assert ns.fds is not None
        env = VirtualEnv()
        peer = LinuxPeer(env, ns.fds.tap, lambda f: None, mac=KERNEL_MAC, ip=dst, host_ip=src,
                         ctl_fd=ns.fds.ctl, report_fd=ns.fds.report)
        for i, ip in enumerate((bad_tcp, bytes(bad_ip))):
            eth = build_eth(KERNEL_MAC, host_mac, ETH_P_IP, ip)
            peer.receive_frame(WireFrame(eth + fcs(eth), 0, 0, True, i))
        assert peer.frames_to_kernel == 2 and peer.frames_from_kernel == 0  # no SYN-ACK to either
        report = peer.finish()
        name = ns.name
    assert name not in namespaces()
    errors = kernel_errors(report["counters"])
    assert "Tcp InCsumErrors 1" in errors and "Ip InHdrErrors 1" in errors, errors
    assert check_delivery(RunConfig(proto="tcp", nbytes=100, peer="linux"), report) == \
        "the Linux peer's receiver: no connection before the run ended"


def test_a_receiver_that_cannot_start_leaves_nothing_behind():
    from hilnic.wire.netns import NamespaceConfig, NamespaceError, PeerNamespace

    with pytest.raises(NamespaceError, match=r"did not start: .*port must be 0-65535"), \
            PeerNamespace(NamespaceConfig(port=70000)):
        pass
    _assert_nothing_left(os.getpid())
