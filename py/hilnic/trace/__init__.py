"""Reports in Linux's own formats, and the function-graph rendering of the tracer."""

from hilnic.trace.accounting import copy_accounting
from hilnic.trace.graph import function_graph
from hilnic.trace.procfs import (
    netstat_TcpExt,
    proc_interrupts,
    proc_net_dev,
    proc_net_snmp,
    proc_softirqs,
    proc_stat,
    softnet_stat,
)
from hilnic.trace.stats import collect_stats, driver_stats
from hilnic.trace.tools import bql, ethtool_S, sprint_size, tc_s_qdisc

__all__ = [
    "bql",
    "collect_stats",
    "copy_accounting",
    "driver_stats",
    "ethtool_S",
    "function_graph",
    "netstat_TcpExt",
    "proc_interrupts",
    "proc_net_dev",
    "proc_net_snmp",
    "proc_softirqs",
    "proc_stat",
    "softnet_stat",
    "sprint_size",
    "tc_s_qdisc",
]
