"""include/linux/socket.h: address families' socket levels and the MSG_* flags."""

SOL_IP = 0
SOL_SOCKET = 1
SOL_TCP = 6

MSG_OOB = 0x1
MSG_PROBE = 0x10
MSG_DONTWAIT = 0x40
MSG_EOR = 0x80
MSG_ERRQUEUE = 0x2000
MSG_NOSIGNAL = 0x4000
MSG_MORE = 0x8000
MSG_ZEROCOPY = 0x4000000
