"""include/linux/socket.h: msg flags."""

MSG_OOB = 0x1
MSG_PROBE = 0x10
MSG_DONTWAIT = 0x40
MSG_MORE = 0x8000
