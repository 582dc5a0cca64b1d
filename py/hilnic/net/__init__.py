"""The kernel's network stack (net/).

net/sched is built in: loading the stack loads it, and it fills in include/net/pkt_sched.py,
through which net/core (below it here) reaches the scheduler (Linux: pkt_sched_init). The
qdiscs beyond sch_generic's register themselves as they load (fq, fq_codel).
"""

import hilnic.net.sched.sch_fq  # registers "fq"
import hilnic.net.sched.sch_fq_codel  # registers "fq_codel"
import hilnic.net.sched.sch_generic  # noqa: F401  (registers the scheduler with net/core)
