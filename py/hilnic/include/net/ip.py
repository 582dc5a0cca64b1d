"""include/net/ip.h: IPv4 header flags and limits (and sizeof(struct iphdr))."""

IP_DF = 0x4000
IP_MF = 0x2000
IP_OFFSET = 0x1FFF
IP_MAX_MTU = 0xFFFF
IPDEFTTL = 64
IPHDR_LEN = 20
