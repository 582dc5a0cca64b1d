"""The software stage on the waveform: nic_harness's sw_func / sw_ctx / sw_calls.

`SwSignals(dut, tracer)` listens to a `hilnic.kernel.ftrace.Tracer` and writes three
harness registers (view them in GTKWave's "Software" group of hdl/nic.gtkw):

    sw_func   [8*SW_FUNC_CHARS-1:0]  ASCII: outermost kernel function on the CPU, or "idle"
    sw_ctx    [63:0]                 ASCII: "process" | "softirq" | "hardirq" | "idle"
    sw_calls  [31:0]                 traced kernel calls entered so far (Tracer.calls)

Strings are packed as Verilog string literals are (`ascii_value`): first character in the
most significant byte, right-aligned, NUL bytes on the left (GTKWave's ASCII display skips
them). A name longer than the register keeps its first characters.

What the values mean. Kernel code runs in CPU time (hilnic.kernel.core): a synchronous
section's logic runs at one instant of the event loop while the CPU's cursor moves ahead by
the time the section costs. The Tracer's clock is that cursor, and every write is placed at
it, so the registers show the *activation* on the CPU over the CPU time it took, not the
innermost call:

* sw_func is the outermost traced function of the running activation (tcp_sendmsg for the
  whole send path, net_tx_action for a NET_TX softirq run, e1000_intr for the hard IRQ, a
  timer's or NAPI poll's entry point), sw_ctx its context. They change only when an
  activation starts, resumes, suspends or returns (the Tracer's RUN / WAIT / EXIT
  notifications), never for nested calls; trace.txt (same ns time base) lists those.
* An activation shows from the CPU time it starts at to the CPU time it returns at (the
  cursor then: e.g. tcp_sendmsg for its copy and the stack below it); "idle" follows, but
  no sooner than `hold_ps` after the start, so an activation that costs nothing (e.g.
  with --cpu-scale 0) is still a pulse of that length. An activation starting before that
  replaces the value directly. With several activations at one time the dump shows the last.
* A hard-IRQ handler awaiting an MMIO read keeps the CPU (the kernel model runs nothing
  else meanwhile), so it stays on the signals for the whole read.
* sw_calls steps at every activation change by the number of traced calls made so far.
* With several CPUs (--cpus N) the registers show the activations of all of them, each
  placed at its own CPU's time: the one that started last wins (trace.txt has a CPU column).
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
        self._env = env
        self.writes = 0
        self._shown_at = 0  # CPU time (ps) the activation shown last started at
        self._idle_t: int | None = None  # when the pending "idle" is due (ps), if one is
        self._gen = 0  # bumped when an activation starts before the pending "idle": that one is void
        self._holder: str | None = None  # hard-IRQ handler awaiting MMIO (keeps the CPU)
        self._installed = False
        if install:
            self.install()

    # -- lifecycle ------------------------------------------------------------------------

    def install(self) -> SwSignals:
        if not self._installed:
            self.tracer.listeners.append(self._on_activation)
            self._installed = True
            self._write(IDLE, IDLE, self.tracer.calls)
        return self

    def uninstall(self) -> None:
        if self._installed:
            self.tracer.listeners.remove(self._on_activation)
            self._installed = False
        self._idle_t = None
        self._gen += 1

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

    def _at(self, t: int, fn: Callable[..., None], *args: Any) -> None:
        """`fn(*args)` at CPU time `t`: now if the event loop is there, else when it gets there
        (the code ran at an earlier instant of the loop; the CPU reaches `t` later)."""
        env = self._env
        if env is None:  # no loop to place writes on: written when told, "idle" a hold later
            if fn == self._write_idle and t > self._shown_at:
                _cocotb_call_later(t - self._shown_at, lambda: fn(*args))
            else:
                fn(*args)
            return
        if t > env.now():
            env.call_at(t, fn, *args)
        else:
            fn(*args)

    def _show(self, func: str, ctx: str) -> None:
        t = self.tracer.clock()
        if self._idle_t is not None and t < self._idle_t:
            self._gen += 1  # starts before the last one's "idle" is due: replaces it directly
        self._idle_t = None
        self._shown_at = t
        self._at(t, self._write, func, ctx, self.tracer.calls)

    def _go_idle(self) -> None:
        # idle at the CPU time the activation returned at, and not before the hold ends
        t = self.tracer.clock()
        end = self._shown_at + self.hold_ps
        t_idle = t if t > end else end
        self._idle_t = t_idle
        self._at(t_idle, self._write_idle, IDLE, self._gen, self.tracer.calls)

    def _write(self, func: str, ctx: str, calls: int) -> None:
        if self._installed:
            self.writes += self.func.write(func) + self.ctx.write(ctx) + self.calls.write(calls)

    def _write_idle(self, idle: str, gen: int, calls: int) -> None:
        if gen == self._gen:  # else an activation started before it was due, or uninstalled
            self._idle_t = None
            self._write(idle, idle, calls)

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
