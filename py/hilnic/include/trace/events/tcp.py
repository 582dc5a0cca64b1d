"""include/trace/events/tcp.h: tcp_probe, TCP's congestion-window tracking point.

Fired at the start of tcp_rcv_established for every segment of an established connection,
before the segment is processed (as in Linux), and, unlike Linux, also in
tcp_rcv_state_process for the closing states (docs/deviations.md): a probe reads snd_cwnd,
ssthresh, snd_nxt and snd_una from `sk` as the previous ACK left them.
"""

from hilnic.kernel.tracepoint import define_tracepoint

trace_tcp_probe = define_tracepoint("tcp:tcp_probe")  # (sk, skb)

__all__ = ["trace_tcp_probe"]
