"""include/trace/events/net.h: net_dev_xmit, after each skb handed to the driver (xmit_one)."""

from hilnic.kernel.tracepoint import define_tracepoint

trace_net_dev_xmit = define_tracepoint("net:net_dev_xmit")  # (skb, rc, dev, skb_len)

__all__ = ["trace_net_dev_xmit"]
