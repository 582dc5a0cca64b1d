/*
 * hilnic -- simulation only: cocotb toplevel around nic_top.
 *
 * - clock generated here (CLK_PERIOD_PS, default 6.4 ns = 156.25 MHz), never from Python;
 *   `cycle` counts rising edges from time 0 (rising edge c is at c*CLK_PERIOD_PS + half);
 * - `rst` is held high from time 0 until Python writes 0;
 * - CSR bus `axil_*`: driven by tb_axil_master (u_axil), one MMIO access per Python wake;
 * - DMA bus `axi_*`: answered by tb_axi_mem (u_mem; one Python wake per burst) when
 *   USE_PY_MEM=1, or by whatever drives the top-level m_axi_* ports (cocotbext-axi AxiRam,
 *   `AxiBus.from_prefix(dut, "m_axi")`) when USE_PY_MEM=0;
 * - wire: tb_xgmii_rx (u_xgmii) decodes XGMII, one Python wake per frame;
 * - tb_axi_checker (u_check) watches both buses and latches protocol violations;
 * - sw_func / sw_ctx / sw_calls: the kernel model's current function and CPU context, set
 *   by Python when tracing is on (hilnic.hw.swsignals), for the waveform;
 * - cfg_* knobs of the memory transactor are plain registers Python may write at any time
 *   (cfg_seed is taken while rst is high).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_harness #
(
    // nic_top: width of the AXI-Lite CSR address bus
    parameter AXIL_ADDR_WIDTH = 16,
    // nic_top: width of the DMA address bus
    parameter DMA_ADDR_WIDTH = 64,
    // nic_top: width of the DMA data bus (64, 128 or 256)
    parameter DMA_DATA_WIDTH = 128,
    // nic_top: width of the AXI ID signals
    parameter DMA_ID_WIDTH = 4,
    // nic_top: largest frame sent, in bytes, without FCS
    parameter MAX_FRAME_BYTES = 9216,
    // nic_top: descriptors fetched per burst at most
    parameter DESC_PREFETCH = 8,
    // clock period in picoseconds (even)
    parameter CLK_PERIOD_PS = 6400,
    // 1: host memory through tb_axi_mem and Python; 0: through the top-level m_axi_* ports
    parameter USE_PY_MEM = 1,
    // reads outstanding in tb_axi_mem (a PCIe root complex takes many; 16 hides 500 ns at 64 B frames)
    parameter MEM_RD_SLOTS = 16,
    // reset values of the memory knobs (cycles)
    parameter MEM_RD_LATENCY = 0,
    parameter MEM_WR_LATENCY = 0,
    // USE_PY_MEM=0 only. 1: the external memory model runs on m_axi_clk = ~clk and its
    // outputs reach nic_top through registers loaded on the falling edge. For Verilator, whose
    // value-change callbacks (RisingEdge) fire only after the whole time step has been
    // evaluated, so a pin-level model clocked by clk would sample the flops' new values;
    // half a cycle earlier it samples exactly what nic_top samples at the next rising edge,
    // and what it drives then is presented at the rising edge after (hilnic.hw.sim sets
    // this for Verilator builds; Icarus keeps 0).
    parameter EXT_MEM_NEGEDGE = 0,
    // characters of the software-stage signal sw_func
    parameter SW_FUNC_CHARS = 32
)
(
    /*
     * DMA bus, for an external (cocotbext-axi) memory when USE_PY_MEM=0; outputs always
     * mirror nic_top's master outputs, inputs are ignored when USE_PY_MEM=1
     */
    output wire [DMA_ID_WIDTH-1:0]     m_axi_awid,
    output wire [DMA_ADDR_WIDTH-1:0]   m_axi_awaddr,
    output wire [7:0]                  m_axi_awlen,
    output wire [2:0]                  m_axi_awsize,
    output wire [1:0]                  m_axi_awburst,
    output wire                        m_axi_awlock,
    output wire [3:0]                  m_axi_awcache,
    output wire [2:0]                  m_axi_awprot,
    output wire                        m_axi_awvalid,
    /* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
    input  wire                        m_axi_awready,
    /* verilator lint_on UNUSEDSIGNAL */
    output wire [DMA_DATA_WIDTH-1:0]   m_axi_wdata,
    output wire [DMA_DATA_WIDTH/8-1:0] m_axi_wstrb,
    output wire                        m_axi_wlast,
    output wire                        m_axi_wvalid,
    /* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
    input  wire                        m_axi_wready,
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
    input  wire [DMA_ID_WIDTH-1:0]     m_axi_bid,
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
    input  wire [1:0]                  m_axi_bresp,
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
    input  wire                        m_axi_bvalid,
    /* verilator lint_on UNUSEDSIGNAL */
    output wire                        m_axi_bready,
    output wire [DMA_ID_WIDTH-1:0]     m_axi_arid,
    output wire [DMA_ADDR_WIDTH-1:0]   m_axi_araddr,
    output wire [7:0]                  m_axi_arlen,
    output wire [2:0]                  m_axi_arsize,
    output wire [1:0]                  m_axi_arburst,
    output wire                        m_axi_arlock,
    output wire [3:0]                  m_axi_arcache,
    output wire [2:0]                  m_axi_arprot,
    output wire                        m_axi_arvalid,
    /* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
    input  wire                        m_axi_arready,
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
    input  wire [DMA_ID_WIDTH-1:0]     m_axi_rid,
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
    input  wire [DMA_DATA_WIDTH-1:0]   m_axi_rdata,
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
    input  wire [1:0]                  m_axi_rresp,
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
    input  wire                        m_axi_rlast,
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
    input  wire                        m_axi_rvalid,
    /* verilator lint_on UNUSEDSIGNAL */
    output wire                        m_axi_rready
);

initial begin
    if (CLK_PERIOD_PS < 2 || CLK_PERIOD_PS % 2 != 0) begin
        $error("%m: CLK_PERIOD_PS must be even and >= 2");
        $finish;
    end
    if (USE_PY_MEM != 0 && USE_PY_MEM != 1) begin
        $error("%m: USE_PY_MEM must be 0 or 1");
        $finish;
    end
end

// ---- clock, reset, cycle counter -----------------------------------------------------------
localparam real HALF_PERIOD_NS = CLK_PERIOD_PS / 2000.0;

localparam integer HALF_PERIOD_PS = CLK_PERIOD_PS / 2;

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg        clk = 1'b0;
reg        rst = 1'b1;
reg [63:0] cycle = 0;

// Clock hold: skip cycles in which nothing can happen, through nic_top's clock-gate ports
// only (hdl/nic/README.md, "Gating the clock"). Python (hilnic.cosim.cocotb_env) sets
// clk_hold when the kernel model only waits for its own timers. At a falling edge the clock
// then stops while everything it drives is quiet (hw_quiet: nic_top's `quiet`, no MMIO
// command waiting, the wire decoder between frames with its gap seen): for good when no
// interrupt timer runs, else for N - 2 cycles, N the least count of the running timers
// (nic_top's irq_* ports: nothing but the timers changes before edge N; the contract allows
// N - 1, the harness has always left two edges to the clock), and the cycles skipped go to
// nic_top with the edge that restarts the clock (skip_valid, skip_cycles), which counts the
// timers on by as many. Time still passes. The clock restarts when Python clears clk_hold
// or writes something that makes the design busy (an MMIO command, rst); the next rising
// edge is the first on the grid after that moment (rising edges stay at c*CLK_PERIOD_PS +
// half, `cycle` jumps over the skipped ones, counted in clk_skipped).
reg        clk_hold = 1'b0;
reg [63:0] clk_skipped = 0;
wire       hw_quiet;
wire       irq_tidv_armed, irq_tadv_armed;
wire [23:0] irq_tidv_count, irq_tadv_count;
wire [21:0] irq_itr_count;
reg        skip_valid = 1'b0;
reg [23:0] skip_cycles = 0;
// edges before the next timer expires (0: none runs) and the cycles to skip. Computed by the
// clock process at a falling edge where it may stop (clk_hold && hw_quiet), not as continuous
// wires, which would re-evaluate their compares on every cycle a counter runs.
reg [23:0] ff_tidv = 0, ff_tadv = 0, ff_itr = 0, ff_wake = 0;
reg [23:0] ff_cycles = 0;
reg        hold_resume = 1'b0;
reg        hold_count = 1'b0;
reg [63:0] hold_t_ps = 0;
reg [63:0] hold_rise = 0;
reg [63:0] hold_n = 0;
/* verilator lint_on PROCASSINIT */

always begin
    hold_resume = 1'b0;
    hold_count = 1'b0;
    if (clk_hold && hw_quiet) begin
        ff_tidv = irq_tidv_armed ? irq_tidv_count : 24'hFFFFFF;
        ff_tadv = irq_tadv_armed ? irq_tadv_count : 24'hFFFFFF;
        ff_itr = irq_itr_count != 0 ? {2'b00, irq_itr_count} : 24'hFFFFFF;
        ff_wake = ff_tidv < ff_tadv ? ff_tidv : ff_tadv;
        ff_wake = ff_wake < ff_itr ? ff_wake : ff_itr;
        if (ff_wake == 24'hFFFFFF) begin  // a running count is below 2^24 - 1
            wait (!clk_hold || !hw_quiet);
            hold_resume = 1'b1;
        end else begin
            ff_cycles = ff_wake > 2 ? ff_wake - 24'd2 : 24'd0;
            if (ff_cycles != 0) begin
                fork : ff_wait
                    wait (!clk_hold || !hw_quiet);
                    /* verilator lint_off ZERODLY */ // delay computed at run time by the clock hold (exact timing, unchanged on purpose)
                    #((ff_cycles * CLK_PERIOD_PS) / 1000.0);
                    /* verilator lint_on ZERODLY */
                join_any
                disable ff_wait;
                hold_resume = 1'b1;
                hold_count = 1'b1;
            end
        end
    end
    if (hold_resume) begin
        /* verilator lint_off REALCVT */ // simulated time in ps from $realtime, rounded to the nearest ps on purpose
        hold_t_ps = $realtime * 1000.0;  // rounds to the nearest ps; $rtoi would be 32 bits
        /* verilator lint_on REALCVT */
        /* verilator lint_off WIDTHEXPAND */ // testbench arithmetic: the implicit extension is intended and the values fit
        hold_rise = (hold_t_ps - HALF_PERIOD_PS) / CLK_PERIOD_PS + 1;
        /* verilator lint_on WIDTHEXPAND */
        hold_n = hold_rise - cycle;
        if (hold_count) begin
            // the edges skipped would each have counted the running timers down (set before
            // the edge, like any synchronous input)
            skip_cycles = hold_n[23:0];
            skip_valid = 1'b1;
        end
        /* verilator lint_off ZERODLY */ // delay computed at run time by the clock hold (exact timing, unchanged on purpose)
        #((hold_rise * CLK_PERIOD_PS + HALF_PERIOD_PS - hold_t_ps) / 1000.0);
        /* verilator lint_on ZERODLY */
        clk_skipped = clk_skipped + hold_n;
        clk = 1'b1;
        cycle <= hold_rise + 1;
    end else begin
        #(HALF_PERIOD_NS) clk = 1'b1;
        cycle <= cycle + 1;
    end
    #(HALF_PERIOD_NS) clk = 1'b0;
    skip_valid = 1'b0;
end

// ---- memory knobs (Python writes these) ---------------------------------------------------
reg [15:0] cfg_rd_latency = MEM_RD_LATENCY;
reg [15:0] cfg_wr_latency = MEM_WR_LATENCY;
reg [7:0]  cfg_r_gap_fixed = 0;
reg [7:0]  cfg_r_gap_prob = 0;
reg [7:0]  cfg_ar_stall = 0;
reg [7:0]  cfg_aw_stall = 0;
reg [7:0]  cfg_w_stall = 0;
reg [7:0]  cfg_b_gap_prob = 0;
reg [31:0] cfg_seed = 1;

// ---- software stage (Python writes these; view as ASCII in GTKWave) -----------------------
// The kernel model runs in zero simulated time, so at one timestamp these show the last
// activation; trace.txt (same ns time base) lists every call at that time.
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [8*SW_FUNC_CHARS-1:0] sw_func = "idle";  // kernel function running, e.g. "net_tx_action"
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [8*8-1:0]             sw_ctx = "idle";   // process | softirq | hardirq | idle
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [31:0]                sw_calls = 0;      // traced kernel calls so far
/* verilator lint_on UNUSEDSIGNAL */

// ---- CSR bus -----------------------------------------------------------------------------
wire [AXIL_ADDR_WIDTH-1:0] axil_awaddr;
wire [2:0]                 axil_awprot;
wire                       axil_awvalid;
wire                       axil_awready;
wire [31:0]                axil_wdata;
wire [3:0]                 axil_wstrb;
wire                       axil_wvalid;
wire                       axil_wready;
wire [1:0]                 axil_bresp;
wire                       axil_bvalid;
wire                       axil_bready;
wire [AXIL_ADDR_WIDTH-1:0] axil_araddr;
wire [2:0]                 axil_arprot;
wire                       axil_arvalid;
wire                       axil_arready;
wire [31:0]                axil_rdata;
wire [1:0]                 axil_rresp;
wire                       axil_rvalid;
wire                       axil_rready;

// ---- DMA bus -----------------------------------------------------------------------------
wire [DMA_ID_WIDTH-1:0]     axi_awid;
wire [DMA_ADDR_WIDTH-1:0]   axi_awaddr;
wire [7:0]                  axi_awlen;
wire [2:0]                  axi_awsize;
wire [1:0]                  axi_awburst;
wire                        axi_awlock;
wire [3:0]                  axi_awcache;
wire [2:0]                  axi_awprot;
wire                        axi_awvalid;
wire                        axi_awready;
wire [DMA_DATA_WIDTH-1:0]   axi_wdata;
wire [DMA_DATA_WIDTH/8-1:0] axi_wstrb;
wire                        axi_wlast;
wire                        axi_wvalid;
wire                        axi_wready;
wire [DMA_ID_WIDTH-1:0]     axi_bid;
wire [1:0]                  axi_bresp;
wire                        axi_bvalid;
wire                        axi_bready;
wire [DMA_ID_WIDTH-1:0]     axi_arid;
wire [DMA_ADDR_WIDTH-1:0]   axi_araddr;
wire [7:0]                  axi_arlen;
wire [2:0]                  axi_arsize;
wire [1:0]                  axi_arburst;
wire                        axi_arlock;
wire [3:0]                  axi_arcache;
wire [2:0]                  axi_arprot;
wire                        axi_arvalid;
wire                        axi_arready;
wire [DMA_ID_WIDTH-1:0]     axi_rid;
wire [DMA_DATA_WIDTH-1:0]   axi_rdata;
wire [1:0]                  axi_rresp;
wire                        axi_rlast;
wire                        axi_rvalid;
wire                        axi_rready;

// ---- wire, interrupt, clock gate ------------------------------------------------------------
wire        dut_quiet, axil_idle, xgmii_quiet;
wire [63:0] xgmii_txd;
wire [7:0]  xgmii_txc;
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire        irq;
/* verilator lint_on UNUSEDSIGNAL */

// ---- the device under test -----------------------------------------------------------------
nic_top #(
    .AXIL_ADDR_WIDTH(AXIL_ADDR_WIDTH),
    .DMA_ADDR_WIDTH(DMA_ADDR_WIDTH),
    .DMA_DATA_WIDTH(DMA_DATA_WIDTH),
    .DMA_ID_WIDTH(DMA_ID_WIDTH),
    .MAX_FRAME_BYTES(MAX_FRAME_BYTES),
    .DESC_PREFETCH(DESC_PREFETCH)
)
dut (
    .clk(clk),
    .rst(rst),
    .s_axil_awaddr(axil_awaddr),
    .s_axil_awprot(axil_awprot),
    .s_axil_awvalid(axil_awvalid),
    .s_axil_awready(axil_awready),
    .s_axil_wdata(axil_wdata),
    .s_axil_wstrb(axil_wstrb),
    .s_axil_wvalid(axil_wvalid),
    .s_axil_wready(axil_wready),
    .s_axil_bresp(axil_bresp),
    .s_axil_bvalid(axil_bvalid),
    .s_axil_bready(axil_bready),
    .s_axil_araddr(axil_araddr),
    .s_axil_arprot(axil_arprot),
    .s_axil_arvalid(axil_arvalid),
    .s_axil_arready(axil_arready),
    .s_axil_rdata(axil_rdata),
    .s_axil_rresp(axil_rresp),
    .s_axil_rvalid(axil_rvalid),
    .s_axil_rready(axil_rready),
    .m_axi_awid(axi_awid),
    .m_axi_awaddr(axi_awaddr),
    .m_axi_awlen(axi_awlen),
    .m_axi_awsize(axi_awsize),
    .m_axi_awburst(axi_awburst),
    .m_axi_awlock(axi_awlock),
    .m_axi_awcache(axi_awcache),
    .m_axi_awprot(axi_awprot),
    .m_axi_awvalid(axi_awvalid),
    .m_axi_awready(axi_awready),
    .m_axi_wdata(axi_wdata),
    .m_axi_wstrb(axi_wstrb),
    .m_axi_wlast(axi_wlast),
    .m_axi_wvalid(axi_wvalid),
    .m_axi_wready(axi_wready),
    .m_axi_bid(axi_bid),
    .m_axi_bresp(axi_bresp),
    .m_axi_bvalid(axi_bvalid),
    .m_axi_bready(axi_bready),
    .m_axi_arid(axi_arid),
    .m_axi_araddr(axi_araddr),
    .m_axi_arlen(axi_arlen),
    .m_axi_arsize(axi_arsize),
    .m_axi_arburst(axi_arburst),
    .m_axi_arlock(axi_arlock),
    .m_axi_arcache(axi_arcache),
    .m_axi_arprot(axi_arprot),
    .m_axi_arvalid(axi_arvalid),
    .m_axi_arready(axi_arready),
    .m_axi_rid(axi_rid),
    .m_axi_rdata(axi_rdata),
    .m_axi_rresp(axi_rresp),
    .m_axi_rlast(axi_rlast),
    .m_axi_rvalid(axi_rvalid),
    .m_axi_rready(axi_rready),
    .xgmii_txd(xgmii_txd),
    .xgmii_txc(xgmii_txc),
    .irq(irq),
    .quiet(dut_quiet),
    .irq_tidv_armed(irq_tidv_armed),
    .irq_tidv_count(irq_tidv_count),
    .irq_tadv_armed(irq_tadv_armed),
    .irq_tadv_count(irq_tadv_count),
    .irq_itr_count(irq_itr_count),
    .skip_valid(skip_valid),
    .skip_cycles(skip_cycles)
);

// ---- MMIO master ---------------------------------------------------------------------------
tb_axil_master #(
    .ADDR_WIDTH(AXIL_ADDR_WIDTH),
    .CLK_PERIOD_PS(CLK_PERIOD_PS)
)
u_axil (
    .clk(clk),
    .rst(rst),
    .m_axil_awaddr(axil_awaddr),
    .m_axil_awprot(axil_awprot),
    .m_axil_awvalid(axil_awvalid),
    .m_axil_awready(axil_awready),
    .m_axil_wdata(axil_wdata),
    .m_axil_wstrb(axil_wstrb),
    .m_axil_wvalid(axil_wvalid),
    .m_axil_wready(axil_wready),
    .m_axil_bresp(axil_bresp),
    .m_axil_bvalid(axil_bvalid),
    .m_axil_bready(axil_bready),
    .m_axil_araddr(axil_araddr),
    .m_axil_arprot(axil_arprot),
    .m_axil_arvalid(axil_arvalid),
    .m_axil_arready(axil_arready),
    .m_axil_rdata(axil_rdata),
    .m_axil_rresp(axil_rresp),
    .m_axil_rvalid(axil_rvalid),
    .m_axil_rready(axil_rready),
    .idle(axil_idle)
);

// ---- host memory ---------------------------------------------------------------------------
assign m_axi_awid = axi_awid;
assign m_axi_awaddr = axi_awaddr;
assign m_axi_awlen = axi_awlen;
assign m_axi_awsize = axi_awsize;
assign m_axi_awburst = axi_awburst;
assign m_axi_awlock = axi_awlock;
assign m_axi_awcache = axi_awcache;
assign m_axi_awprot = axi_awprot;
assign m_axi_awvalid = axi_awvalid;
assign m_axi_wdata = axi_wdata;
assign m_axi_wstrb = axi_wstrb;
assign m_axi_wlast = axi_wlast;
assign m_axi_wvalid = axi_wvalid;
assign m_axi_bready = axi_bready;
assign m_axi_arid = axi_arid;
assign m_axi_araddr = axi_araddr;
assign m_axi_arlen = axi_arlen;
assign m_axi_arsize = axi_arsize;
assign m_axi_arburst = axi_arburst;
assign m_axi_arlock = axi_arlock;
assign m_axi_arcache = axi_arcache;
assign m_axi_arprot = axi_arprot;
assign m_axi_arvalid = axi_arvalid;
assign m_axi_rready = axi_rready;

generate
if (USE_PY_MEM) begin : g_py_mem
    tb_axi_mem #(
        .DATA_WIDTH(DMA_DATA_WIDTH),
        .ADDR_WIDTH(DMA_ADDR_WIDTH),
        .ID_WIDTH(DMA_ID_WIDTH),
        .RD_SLOTS(MEM_RD_SLOTS),
        .CLK_PERIOD_PS(CLK_PERIOD_PS)
    )
    u_mem (
        .clk(clk),
        .rst(rst),
        .cycle(cycle),
        .cfg_rd_latency(cfg_rd_latency),
        .cfg_wr_latency(cfg_wr_latency),
        .cfg_r_gap_fixed(cfg_r_gap_fixed),
        .cfg_r_gap_prob(cfg_r_gap_prob),
        .cfg_ar_stall(cfg_ar_stall),
        .cfg_aw_stall(cfg_aw_stall),
        .cfg_w_stall(cfg_w_stall),
        .cfg_b_gap_prob(cfg_b_gap_prob),
        .cfg_seed(cfg_seed),
        .s_axi_awid(axi_awid),
        .s_axi_awaddr(axi_awaddr),
        .s_axi_awlen(axi_awlen),
        .s_axi_awsize(axi_awsize),
        .s_axi_awburst(axi_awburst),
        .s_axi_awvalid(axi_awvalid),
        .s_axi_awready(axi_awready),
        .s_axi_wdata(axi_wdata),
        .s_axi_wstrb(axi_wstrb),
        .s_axi_wlast(axi_wlast),
        .s_axi_wvalid(axi_wvalid),
        .s_axi_wready(axi_wready),
        .s_axi_bid(axi_bid),
        .s_axi_bresp(axi_bresp),
        .s_axi_bvalid(axi_bvalid),
        .s_axi_bready(axi_bready),
        .s_axi_arid(axi_arid),
        .s_axi_araddr(axi_araddr),
        .s_axi_arlen(axi_arlen),
        .s_axi_arsize(axi_arsize),
        .s_axi_arburst(axi_arburst),
        .s_axi_arvalid(axi_arvalid),
        .s_axi_arready(axi_arready),
        .s_axi_rid(axi_rid),
        .s_axi_rdata(axi_rdata),
        .s_axi_rresp(axi_rresp),
        .s_axi_rlast(axi_rlast),
        .s_axi_rvalid(axi_rvalid),
        .s_axi_rready(axi_rready)
    );
end else if (EXT_MEM_NEGEDGE) begin : g_ext_mem_negedge
    reg                      awready_q = 1'b0;
    reg                      wready_q = 1'b0;
    reg [DMA_ID_WIDTH-1:0]   bid_q = 0;
    reg [1:0]                bresp_q = 0;
    reg                      bvalid_q = 1'b0;
    reg                      arready_q = 1'b0;
    reg [DMA_ID_WIDTH-1:0]   rid_q = 0;
    reg [DMA_DATA_WIDTH-1:0] rdata_q = 0;
    reg [1:0]                rresp_q = 0;
    reg                      rlast_q = 1'b0;
    reg                      rvalid_q = 1'b0;
    always @(negedge clk) begin
        awready_q <= m_axi_awready;
        wready_q <= m_axi_wready;
        bid_q <= m_axi_bid;
        bresp_q <= m_axi_bresp;
        bvalid_q <= m_axi_bvalid;
        arready_q <= m_axi_arready;
        rid_q <= m_axi_rid;
        rdata_q <= m_axi_rdata;
        rresp_q <= m_axi_rresp;
        rlast_q <= m_axi_rlast;
        rvalid_q <= m_axi_rvalid;
    end
    assign axi_awready = awready_q;
    assign axi_wready = wready_q;
    assign axi_bid = bid_q;
    assign axi_bresp = bresp_q;
    assign axi_bvalid = bvalid_q;
    assign axi_arready = arready_q;
    assign axi_rid = rid_q;
    assign axi_rdata = rdata_q;
    assign axi_rresp = rresp_q;
    assign axi_rlast = rlast_q;
    assign axi_rvalid = rvalid_q;
end else begin : g_ext_mem
    assign axi_awready = m_axi_awready;
    assign axi_wready = m_axi_wready;
    assign axi_bid = m_axi_bid;
    assign axi_bresp = m_axi_bresp;
    assign axi_bvalid = m_axi_bvalid;
    assign axi_arready = m_axi_arready;
    assign axi_rid = m_axi_rid;
    assign axi_rdata = m_axi_rdata;
    assign axi_rresp = m_axi_rresp;
    assign axi_rlast = m_axi_rlast;
    assign axi_rvalid = m_axi_rvalid;
end
endgenerate

// the external memory model's clock when EXT_MEM_NEGEDGE (~clk; idle otherwise, so Icarus
// pays nothing for it) and a flag Python reads to pick the model's clock
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg  m_axi_clk = 1'b1;
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire ext_mem_negedge = (EXT_MEM_NEGEDGE != 0);
/* verilator lint_on UNUSEDSIGNAL */
generate
if (EXT_MEM_NEGEDGE) begin : g_m_axi_clk
    always @(clk) m_axi_clk = ~clk;
end
endgenerate

// ---- wire ----------------------------------------------------------------------------------
tb_xgmii_rx #(
    .CLK_PERIOD_PS(CLK_PERIOD_PS)
)
u_xgmii (
    .clk(clk),
    .rst(rst),
    .cycle(cycle),
    .xgmii_txd(xgmii_txd),
    .xgmii_txc(xgmii_txc),
    .quiet(xgmii_quiet)
);

// ---- protocol checker ----------------------------------------------------------------------
tb_axi_checker #(
    .DATA_WIDTH(DMA_DATA_WIDTH),
    .ADDR_WIDTH(DMA_ADDR_WIDTH),
    .ID_WIDTH(DMA_ID_WIDTH),
    .AXIL_ADDR_WIDTH(AXIL_ADDR_WIDTH),
    // the NIC may use one ARID for every outstanding read: track as many as memory allows
    .PER_ID_DEPTH(MEM_RD_SLOTS > 32 ? 2*MEM_RD_SLOTS : 64)
)
u_check (
    .clk(clk),
    .rst(rst),
    .cycle(cycle),
    .axi_awid(axi_awid),
    .axi_awaddr(axi_awaddr),
    .axi_awlen(axi_awlen),
    .axi_awsize(axi_awsize),
    .axi_awburst(axi_awburst),
    .axi_awlock(axi_awlock),
    .axi_awcache(axi_awcache),
    .axi_awprot(axi_awprot),
    .axi_awvalid(axi_awvalid),
    .axi_awready(axi_awready),
    .axi_wdata(axi_wdata),
    .axi_wstrb(axi_wstrb),
    .axi_wlast(axi_wlast),
    .axi_wvalid(axi_wvalid),
    .axi_wready(axi_wready),
    .axi_bid(axi_bid),
    .axi_bresp(axi_bresp),
    .axi_bvalid(axi_bvalid),
    .axi_bready(axi_bready),
    .axi_arid(axi_arid),
    .axi_araddr(axi_araddr),
    .axi_arlen(axi_arlen),
    .axi_arsize(axi_arsize),
    .axi_arburst(axi_arburst),
    .axi_arlock(axi_arlock),
    .axi_arcache(axi_arcache),
    .axi_arprot(axi_arprot),
    .axi_arvalid(axi_arvalid),
    .axi_arready(axi_arready),
    .axi_rid(axi_rid),
    .axi_rdata(axi_rdata),
    .axi_rresp(axi_rresp),
    .axi_rlast(axi_rlast),
    .axi_rvalid(axi_rvalid),
    .axi_rready(axi_rready),
    .axil_awaddr(axil_awaddr),
    .axil_awprot(axil_awprot),
    .axil_awvalid(axil_awvalid),
    .axil_awready(axil_awready),
    .axil_wdata(axil_wdata),
    .axil_wstrb(axil_wstrb),
    .axil_wvalid(axil_wvalid),
    .axil_wready(axil_wready),
    .axil_bresp(axil_bresp),
    .axil_bvalid(axil_bvalid),
    .axil_bready(axil_bready),
    .axil_araddr(axil_araddr),
    .axil_arprot(axil_arprot),
    .axil_arvalid(axil_arvalid),
    .axil_arready(axil_arready),
    .axil_rdata(axil_rdata),
    .axil_rresp(axil_rresp),
    .axil_rvalid(axil_rvalid),
    .axil_rready(axil_rready)
);

// ---- quiet: no clock edge can change anything (see clk_hold) ------------------------------
// nic_top idle but for its interrupt timers (irq_*), nothing outstanding on its buses
// (so tb_axi_mem holds nothing), no MMIO command waiting, the wire decoder past a frame's gap
assign hw_quiet = dut_quiet && axil_idle && xgmii_quiet;

endmodule

`resetall
