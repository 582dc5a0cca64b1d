"""`hilnic compare RUN_DIR_OR_PCAP REAL.pcap`: a run's segments beside a real kernel's.

Exit status: 0 the host's segments match, 1 they differ, 2 a file cannot be read (one line).
The comparison itself is hilnic.run.compare.
"""

from __future__ import annotations

import argparse
import sys

COMPARE_EPILOG = """\
what is compared:
  TCP  the segments the host (the sender of the SYN) sent on its first connection that carry
       something: payload bytes with P for PSH and F for FIN (1448, 1000P, 376PF), S for the SYN,
       F for a bare FIN; pure ACKs are left out. Shown run-length encoded: '1448 x44'.
  UDP  every IPv4 packet of the host's datagrams as ip_len@offset, +MF while more fragments follow.
  A reference capture with a JSON sidecar (REAL.json, from scripts/linux_ref/capture.py) whose
  real pattern varied between runs is compared on the features that were stable only.

examples:
  hilnic run --sim model --writes 10 --write-size 1000 --out nagle-run
  hilnic compare nagle-run tests/linux_ref/tcp_nagle_10x1000_cubic_rtt0.pcap

exit status: 0 match, 1 different, 2 a file cannot be read."""


def add_compare(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = COMPARE_EPILOG
    p.add_argument("run", metavar="RUN_DIR_OR_PCAP", help="a `hilnic run` output directory (its wire.pcap) or a pcap")
    p.add_argument("real", metavar="REAL.pcap", help="a capture of a real kernel (pcap or pcapng; Ethernet, "
                                                     "Linux cooked or raw IP)")
    p.add_argument("--features", default=None, metavar="A,B",
                   help="compare only these features (TCP: pattern, segments, bytes, max_size, sizes, psh, fin, "
                        "first, last; UDP: pattern, packets, bytes, fragmented); default: the stable ones "
                        "from REAL.json if it says so, else the full pattern")
    p.add_argument("--full", action="store_true", help="compare the full pattern even if REAL.json lists features")
    p.add_argument("--color", action=argparse.BooleanOptionalAction, default=None,
                   help="highlight the first difference in color (default: when stdout is a terminal)")


def run_compare_cmd(a: argparse.Namespace) -> int:
    from hilnic.run.compare import CompareError, compare_files, format_comparison

    names = [n.strip() for n in a.features.split(",") if n.strip()] if a.features else None
    try:
        c = compare_files(a.run, a.real, feature_names=names, full=a.full)
    except CompareError as exc:
        print(f"hilnic compare: error: {exc}", file=sys.stderr)
        return 2
    color = sys.stdout.isatty() if a.color is None else a.color
    print(format_comparison(c, a.run, a.real, color=color))
    return 0 if c.ok else 1


__all__ = ["add_compare", "run_compare_cmd"]
