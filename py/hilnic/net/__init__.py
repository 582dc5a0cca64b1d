"""The kernel's network stack (net/).

net/sched is built in: loading the stack loads it, and it fills in include/net/pkt_sched.py,
through which net/core (below it here) reaches the scheduler (Linux: pkt_sched_init).
"""

import hilnic.net.sched.sch_generic  # noqa: F401  (registers the scheduler with net/core)
