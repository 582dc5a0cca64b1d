"""Beyond the MAC: the peer host, wire loss, and pcap capture."""

from .loss import LossConfig, LossModel, tcp_data_only
from .pcap import PcapRecord, PcapWriter, read_pcap
from .peer import PeerHost, PeerOptions, StrictCheckError, UdpDatagram
from .tcp_receiver import TcpReceiver, TcpState

__all__ = [
    "LossConfig",
    "LossModel",
    "PcapRecord",
    "PcapWriter",
    "PeerHost",
    "PeerOptions",
    "StrictCheckError",
    "TcpReceiver",
    "TcpState",
    "UdpDatagram",
    "read_pcap",
    "tcp_data_only",
]
