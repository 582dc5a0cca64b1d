"""include/net/tcp_states.h (the values datagram sockets use too)."""

TCP_ESTABLISHED = 1
TCP_CLOSE = 7
