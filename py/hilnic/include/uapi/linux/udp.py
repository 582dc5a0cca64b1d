"""include/uapi/linux/udp.h."""

UDPHDR_LEN = 8  # sizeof(struct udphdr)
