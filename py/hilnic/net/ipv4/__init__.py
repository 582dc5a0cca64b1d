"""IPv4 and TCP (net/ipv4/).

The congestion controls built into the kernel register themselves here, as their initcalls
would: loading the package makes cubic (the default) and bbr available beside reno.
"""

import hilnic.net.ipv4.tcp_bbr  # registers "bbr"
import hilnic.net.ipv4.tcp_cubic  # noqa: F401  (registers "cubic")
