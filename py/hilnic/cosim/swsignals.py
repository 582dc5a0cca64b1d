"""The software stage on the waveform: nic_harness's sw_func / sw_ctx / sw_calls.

`SwSignals(dut, tracer)` listens to a `hilnic.kernel.ftrace.Tracer` and writes three
harness registers (view them in GTKWave's "Software" group of hdl/nic.gtkw):

    sw_func   [8*SW_FUNC_CHARS-1:0]  ASCII: outermost kernel function on the CPU, or "idle"
    sw_ctx    [63:0]                 ASCII: "process" | "softirq" | "hardirq" | "idle"
    sw_calls  [31:0]                 traced kernel calls entered so far (Tracer.calls)

Strings are packed as Verilog string literals are (`ascii_value`): first character in the
most significant byte, right-aligned, NUL bytes on the left (GTKWave's ASCII display skips
them). A name longer than the register keeps its first characters.

What the values mean. The kernel model runs in zero simulated time: everything it does at
one instant collapses into the last value the dump holds for that timestamp, so showing
every call is both useless and costly (one VPI write each). The signals therefore show the
*activation* on the CPU, not the innermost call:

* sw_func is the outermost traced function of the running activation (tcp_sendmsg for the
  whole send path, net_tx_action for a NET_TX softirq run, e1000_intr for the hard IRQ, a
  timer's or NAPI poll's entry point), sw_ctx its context. They change only when an
  activation starts, resumes, suspends or returns (the Tracer's RUN / WAIT / EXIT
  notifications), never for nested calls; trace.txt (same ns time base) lists those.
* A hard-IRQ handler awaiting an MMIO read keeps the CPU (the kernel model runs nothing
  else meanwhile), so it stays on the signals for the whole read: this is where software
  takes real simulated time.
* Anything else that returns or blocks leaves the CPU idle, but "idle" is written only
  `hold_ps` later (default: one clock period of the harness), so a zero-time activation
  is still visible as a pulse of that length at its timestamp (e.g. tcp_sendmsg just
  before the TDT doorbell on AXI-Lite). An activation starting within the hold replaces
  the value directly. With several activations at one timestamp the dump shows the last.
* sw_calls steps at every timestamp where kernel code ran, by the number of traced calls,
  even when sw_func's pulses merge.
* Writes go through the raw simulator handle (deposit, no cocotb scheduling) and only when
  the value changes (each register's last value is cached). Cost measured on Icarus 12:
  ~0.36 us per string write (cached binary string), ~0.16 us per sw_calls write, against
  ~1.5 us for cocotb's `handle.value = ...`.

Optional by construction: install it only when waves or trace.txt are wanted (it needs a
Tracer, which only then exists). Without it nothing is written and `@traced` costs one
call; `install_sw_signals` returns None when the toplevel has no sw_* registers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hilnic.cosim.cocotb_internals import raw_handle
from hilnic.kernel.ftrace import EXIT, RUN, WAIT, Tracer

if TYPE_CHECKING:
    from hilnic.kernel.env import Env

IDLE = "idle"
SW_CTX_CHARS = 8
DEFAULT_FUNC_CHARS = 32
DEFAULT_HOLD_PS = 6400  # one 156.25 MHz cycle: nic_harness's default CLK_PERIOD_PS


def ascii_value(text: str, nchars: int) -> int:
    """`text` as a Verilog string literal in a [8*nchars-1:0] reg: first character in the
    most significant used byte, right-aligned, zero (NUL) bytes on the left. Longer texts
    keep their first `nchars` characters; non-ASCII characters become '?'."""
    b = text.encode("ascii", "replace")[:nchars]
    return int.from_bytes(b, "big")


def ascii_text(value: int, nchars: int) -> str:
    """Inverse of `ascii_value` (leading NULs dropped), for tests and readers of dumps."""
    return value.to_bytes(nchars, "big").lstrip(b"\0").decode("ascii", "replace")


class _TextReg:
    """One ASCII register: cached packing and a raw deposit when the text changes."""

    __slots__ = ("h", "nchars", "bits", "last", "_cache")

    def __init__(self, handle: Any, nchars: int) -> None:
        self.h = handle
        self.nchars = nchars
        self.bits = 8 * nchars
        self.last: str | None = None
        self._cache: dict[str, str] = {}

    def write(self, text: str) -> bool:
        if text == self.last:
            return False
        s = self._cache.get(text)
        if s is None:
            s = self._cache[text] = format(ascii_value(text, self.nchars), f"0{self.bits}b")
        self.h.set_signal_val_binstr(0, s)  # 0: GPI deposit, now
        self.last = text
        return True


class _IntReg:
    __slots__ = ("h", "bits", "last")

    def __init__(self, handle: Any, bits: int) -> None:
        self.h = handle
        self.bits = bits
        self.last: int | None = None

    def write(self, value: int) -> bool:
        value &= (1 << self.bits) - 1
        if value == self.last:
            return False
        if value < 1 << 31:
            self.h.set_signal_val_int(0, value)
        else:
            self.h.set_signal_val_binstr(0, format(value, f"0{self.bits}b"))
        self.last = value
        return True


def _raw(sig: Any) -> Any:
    try:
        return raw_handle(sig)
    except AttributeError:  # a stand-in that is its own raw handle
        return sig


def _width(h: Any, default: int) -> int:
    try:
        return int(h.get_num_elems())
    except Exception:
        return default


def _cocotb_call_later(delay_ps: int, fn: Callable[[], None]) -> None:
    import cocotb
    from cocotb.triggers import Timer

    async def later() -> None:
        await Timer(delay_ps, "ps")
        fn()

    cocotb.start_soon(later())


class SwSignals:
    """Drive nic_harness's sw_func / sw_ctx / sw_calls from a Tracer's activations.

    dut      the harness toplevel (cocotb handle; anything with sw_func/sw_ctx/sw_calls
             attributes whose `_handle` has set_signal_val_binstr/_int works)
    tracer   the installed hilnic.kernel.ftrace.Tracer; its `clock` gives ps
    env      something with `call_later(delay_ps, fn)` (an Env) for the delayed "idle";
             None: a cocotb Timer task (the default on the RTL); hold_ps=0: idle at once
    hold_ps  how long a finished activation stays visible before "idle" (default: the
             harness's CLK_PERIOD_PS parameter, else 6400)
    install  register the listener now (else call `install()`)

    `uninstall()` removes the listener and leaves the registers as they are. `writes`
    counts simulator writes.
    """

    def __init__(self, dut: Any, tracer: Tracer, *, env: Env | None = None, hold_ps: int | None = None,
                 install: bool = True) -> None:
        self.dut = dut
        self.tracer = tracer
        hf, hc, hn = _raw(dut.sw_func), _raw(dut.sw_ctx), _raw(dut.sw_calls)
        self.func = _TextReg(hf, _width(hf, 8 * DEFAULT_FUNC_CHARS) // 8)
        self.ctx = _TextReg(hc, _width(hc, 8 * SW_CTX_CHARS) // 8)
        self.calls = _IntReg(hn, _width(hn, 32))
        if hold_ps is None:
            hold_ps = DEFAULT_HOLD_PS
            try:
                hold_ps = int(dut.CLK_PERIOD_PS.value)
            except Exception:
                pass
        self.hold_ps = hold_ps
        self._call_later: Callable[[int, Callable[[], None]], Any] = (
            env.call_later if env is not None else _cocotb_call_later)
        self.writes = 0
        self._idle_since: int | None = None  # CPU idle since (ps), "idle" not yet written
        self._timer = False  # an idle timer is pending
        self._holder: str | None = None  # hard-IRQ handler awaiting MMIO (keeps the CPU)
        self._installed = False
        if install:
            self.install()

    # -- lifecycle ------------------------------------------------------------------------

    def install(self) -> SwSignals:
        if not self._installed:
            self.tracer.listeners.append(self._on_activation)
            self._installed = True
            self._show(IDLE, IDLE)
        return self

    def uninstall(self) -> None:
        if self._installed:
            self.tracer.listeners.remove(self._on_activation)
            self._installed = False
        self._idle_since = None

    def __enter__(self) -> SwSignals:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    # -- the listener ---------------------------------------------------------------------

    def _on_activation(self, name: str, context: str, state: str) -> None:
        if state == RUN:
            if context == "hardirq" and self._holder == name:
                self._holder = None  # resumed: it runs (and shows) as any activation
            self._show(name, context)
            return
        if state == WAIT and context == "hardirq":
            self._holder = name  # awaiting an MMIO read: the CPU stays in the handler
            self._show(name, context)
            return
        if state == EXIT and name == self._holder:
            self._holder = None
        if self._holder is not None:
            self._show(self._holder, "hardirq")
        else:
            self._go_idle()

    def _show(self, func: str, ctx: str) -> None:
        self._idle_since = None
        n = self.func.write(func) + self.ctx.write(ctx) + self.calls.write(self.tracer.calls)
        self.writes += n

    def _go_idle(self) -> None:
        self.writes += self.calls.write(self.tracer.calls)
        if self.hold_ps <= 0:
            self._show(IDLE, IDLE)
            return
        self._idle_since = self.tracer.clock()
        if not self._timer:
            self._timer = True
            self._call_later(self.hold_ps, self._idle_timer)

    def _idle_timer(self) -> None:
        self._timer = False
        since = self._idle_since
        if since is None or not self._installed:
            return  # busy again (or uninstalled) meanwhile
        left = since + self.hold_ps - self.tracer.clock()
        if left > 0:  # went busy and idle again meanwhile: hold from the last idle
            self._timer = True
            self._call_later(left, self._idle_timer)
            return
        self._show(IDLE, IDLE)

    def state(self) -> tuple[str | None, str | None, int | None]:
        """The last values written (func, ctx, calls)."""
        return self.func.last, self.ctx.last, self.calls.last


def has_sw_signals(dut: Any) -> bool:
    return all(hasattr(dut, n) for n in ("sw_func", "sw_ctx", "sw_calls"))


def install_sw_signals(dut: Any, tracer: Tracer | None, **kwargs: Any) -> SwSignals | None:
    """SwSignals on `dut` if tracing is on (`tracer` given) and the toplevel has the
    registers; else None (and nothing is ever written)."""
    if tracer is None or not has_sw_signals(dut):
        return None
    return SwSignals(dut, tracer, **kwargs)


__all__ = ["IDLE", "SwSignals", "ascii_text", "ascii_value", "has_sw_signals", "install_sw_signals"]
