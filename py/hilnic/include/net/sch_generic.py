"""include/net/sch_generic.h: qdisc flags and state bits (net/core reads them off a qdisc)."""

# TCQ_F_*
TCQ_F_BUILTIN = 0x1
TCQ_F_INGRESS = 0x2
TCQ_F_CAN_BYPASS = 0x4
TCQ_F_MQROOT = 0x8
TCQ_F_ONETXQUEUE = 0x10
TCQ_F_CPUSTATS = 0x20
TCQ_F_NOPARENT = 0x40
TCQ_F_NOLOCK = 0x100

# Qdisc state bits (__QDISC_STATE_* and __QDISC_STATE2_RUNNING folded into one word)
QDISC_STATE_SCHED = 1 << 0
QDISC_STATE_DEACTIVATED = 1 << 1
QDISC_STATE_MISSED = 1 << 2
QDISC_STATE_RUNNING = 1 << 8

TC_PRIO_MAX = 15
TC_H_ROOT = 0xFFFF_FFFF
