"""include/uapi/linux/tcp.h: the TCP socket options (SOL_TCP level)."""

TCP_NODELAY = 1
TCP_CORK = 3
TCP_INFO = 11
TCP_CONGESTION = 13

TCP_CA_NAME_MAX = 16
