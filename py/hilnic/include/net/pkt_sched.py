"""include/net/pkt_sched.h: the packet scheduler's entry points that net/core calls.

In Linux net/core/dev.c calls these net/sched/sch_generic.c functions directly, and
sch_generic.c calls back into dev.c (validate_xmit_skb_list, dev_hard_start_xmit). Here
net/sched sits above net/core: core calls through the names below and sch_generic fills
them in when it is loaded (its pkt_sched_init), which hilnic/net/__init__.py guarantees,
as a built-in subsystem's initcall would. One module-attribute lookup per call, as before.

Typed loosely: a header does not import the net objects (Qdisc, NetDevice, Kernel) it names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _not_loaded(*args: Any) -> Any:
    raise RuntimeError("net/sched is not loaded (import hilnic.net)")


# (dev: NetDevice) -> None
dev_init_scheduler: Callable[[Any], None] = _not_loaded
dev_activate: Callable[[Any], None] = _not_loaded
dev_deactivate: Callable[[Any], None] = _not_loaded
# (kernel: Kernel) -> None: the NET_TX_SOFTIRQ action
net_tx_action: Callable[[Any], None] = _not_loaded
# (q: Qdisc) -> ...
__netif_schedule: Callable[[Any], None] = _not_loaded
qdisc_run: Callable[[Any], None] = _not_loaded
__qdisc_run: Callable[[Any], None] = _not_loaded
qdisc_run_begin: Callable[[Any], bool] = _not_loaded
qdisc_run_end: Callable[[Any], None] = _not_loaded
# (q: Qdisc, skb: SkBuff) -> None
qdisc_bstats_update: Callable[[Any, Any], None] = _not_loaded
# (skb, q, dev, txq, validate) -> bool: False when the caller should stop (requeued)
sch_direct_xmit: Callable[[Any, Any, Any, Any, bool], bool] = _not_loaded
