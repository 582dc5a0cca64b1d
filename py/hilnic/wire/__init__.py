"""Beyond the MAC: the peer host, wire loss, and pcap capture."""

from hilnic.wire.loss import LossConfig, LossModel, tcp_data_only
from hilnic.wire.pcap import PcapRecord, PcapWriter, read_pcap
from hilnic.wire.peer import PeerHost, PeerOptions, UdpDatagram
from hilnic.wire.tcp_receiver import TcpReceiver, TcpState

__all__ = [
    "LossConfig",
    "LossModel",
    "PcapRecord",
    "PcapWriter",
    "PeerHost",
    "PeerOptions",
    "TcpReceiver",
    "TcpState",
    "UdpDatagram",
    "read_pcap",
    "tcp_data_only",
]
