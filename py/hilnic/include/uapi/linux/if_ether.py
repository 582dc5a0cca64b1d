"""include/uapi/linux/if_ether.h."""

ETH_ALEN = 6
ETH_HLEN = 14
ETH_DATA_LEN = 1500
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
