"""A TCP scenario of your own on the behavioral NIC, in virtual time (no simulator).

    python examples/tcp_scenario.py

Two connections at once over a link that loses 1% of the frames: a bulk transfer in 64 KiB
send() calls, and a chatty one writing 100-byte messages 50 us apart with TCP_NODELAY. Everything runs
in the host's process context as coroutines; the peer beyond the MAC acknowledges and keeps
what arrived, so the test is whether each stream arrived whole and in order. (The chatty
connection sends far fewer segments than messages: Linux's autocorking holds small writes
while earlier ones still wait for their transmit completion, TCP_NODELAY or not.)
"""

from __future__ import annotations

from hilnic.include.uapi.linux.tcp import TCP_NODELAY
from hilnic.kernel.env import SEC
from hilnic.net.socket import SOL_TCP
from hilnic.testbed import TestbedConfig, model_testbed, pattern, tcp_finished

tb = model_testbed(TestbedConfig(loss_rate=0.01, ring_size=64, seed=7))
BULK, CHATTY = pattern(512 << 10, seed=1), pattern(20_000, seed=2)


async def client(port: int, data: bytes, chunk: int, nodelay: bool = False, gap_ms: float = 0) -> dict:
    s = tb.socket()
    if nodelay:
        s.setsockopt(SOL_TCP, TCP_NODELAY, 1)
    await s.connect((tb.cfg.peer_ip, port))
    for i in range(0, len(data), chunk):
        await s.send(data[i:i + chunk])
        if gap_ms:
            await tb.host.kernel.msleep(gap_ms)  # the application thinks between messages
    await s.close()
    await tcp_finished(tb, s, len(data), port)  # the peer has it all, the FIN is acknowledged
    return s.tcp_info()


async def main() -> list[dict]:
    k = tb.host.kernel
    tasks = [k.spawn(client(5001, BULK, 64 << 10), "bulk"),
             k.spawn(client(5002, CHATTY, 100, nodelay=True, gap_ms=0.05), "chatty")]
    return [await t.join() for t in tasks]


bulk, chatty = tb.run(main(), timeout=30 * SEC)  # set up, run main(), tear down
assert tb.peer.stream(peer_port=5001) == BULK and tb.peer.stream(peer_port=5002) == CHATTY
tb.check_clean()  # no skb or DMA mapping left behind
for name, info in (("bulk", bulk), ("chatty", chatty)):
    print(f"{name:>6}: {info['segs_out']:4} segments out, {info['total_retrans']:2} retransmitted, "
          f"cwnd {info['cwnd']}, srtt {info['srtt_us']} us")
print(f"wire: {tb.frames} frames, {tb.peer.counters()['dropped_by_loss']} dropped by the loss model, "
      f"{tb.env.now() / SEC * 1e3:.1f} ms simulated")
