"""include/linux/in.h: address classes (`in` is a Python keyword, hence in_)."""


def ipv4_is_multicast(addr: int) -> bool:
    return (addr & 0xF0000000) == 0xE0000000


def ipv4_is_lbcast(addr: int) -> bool:
    return addr == 0xFFFFFFFF


def ipv4_is_loopback(addr: int) -> bool:
    return (addr & 0xFF000000) == 0x7F000000
