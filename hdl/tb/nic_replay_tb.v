/*
 * hilnic -- simulation only: pure-Verilog replay bench of nic_top (no Python in the loop).
 *
 * Measures how fast the RTL itself simulates under full transmit load
 * (python -m hilnic.bench.rtl_speed builds the memory image, compiles this with iverilog and
 * runs vvp directly, or with --sim verilator builds it with `verilator --binary --timing` and
 * runs the executable, wall-timing it):
 *
 * - clock generated here (CLK_PERIOD_PS), reset for 8 cycles;
 * - host memory: a Verilog AXI4 slave over `mem` (DMA_DATA_WIDTH-bit words at MEM_BASE,
 *   loaded with $readmemh from +memfile=<path>), fixed read latency RD_LATENCY cycles from
 *   the AR handshake to the first R beat, up to 16 reads outstanding, served in order;
 *   writes (descriptor write-backs) are merged with WSTRB, B answered at once;
 * - a CSR sequence over AXI-Lite programs the ring (RING_N descriptors at MEM_BASE, TCTL.EN)
 *   and rings the doorbell, then keeps refilling the ring by advancing TDT in batches of
 *   BATCH as frames leave the MAC (the descriptors are static, so a refill is only a TDT
 *   write), until N_FRAMES frames are out;
 * - the wire: a cheap XGMII checker. Each frame's signature is the 64-bit sum of the XGMII
 *   words after the start word up to and including the terminate word (FCS, terminate and
 *   trailing idles included), and its length; both are compared with the expected values for
 *   ring slot (frame % RING_N), loaded from +sigfile=<path> (one line per slot: 16 hex digits
 *   of signature, 8 of length in bytes incl. FCS). Python computes them with zlib's CRC-32,
 *   so a frame counts as good only if its bytes and FCS are exact. The first DUMP_FRAMES
 *   frames' words are also written to +dumpfile=<path> for an independent FCS check.
 *
 * Output lines (flushed, parsed by Python):
 *   REPLAY_START cycle=<c>        doorbell rung
 *   REPLAY_MARK frames=<n> cycle=<c>   when frame MARK_FRAMES ends (steady-state window start)
 *   REPLAY_DONE frames=.. good=.. bad=.. cycles=.. first_start=.. last_start=.. ...
 *   REPLAY_TIMEOUT ...            if MAX_CYCLES pass first
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_replay_tb #
(
    parameter DMA_DATA_WIDTH = 128,
    parameter DESC_PREFETCH = 8,
    parameter MAX_FRAME_BYTES = 9216,
    parameter CLK_PERIOD_PS = 6400,
    // host memory image: MEM_WORDS words of DMA_DATA_WIDTH bits at byte address MEM_BASE
    parameter MEM_WORDS = 65536,
    parameter [63:0] MEM_BASE = 64'h0000_0001_0000_0000,
    // ring of RING_N descriptors at MEM_BASE
    parameter RING_N = 256,
    parameter N_FRAMES = 1000,
    parameter BATCH = 16,
    parameter RD_LATENCY = 78,
    parameter MARK_FRAMES = 50,
    parameter DUMP_FRAMES = 4,
    parameter TCTL_VALUE = 32'h0000_000A,   // EN | PSP
    parameter MAX_CYCLES = 100000000
);

localparam BPB = DMA_DATA_WIDTH / 8;
localparam OFF_BITS = $clog2(BPB);
localparam ID_WIDTH = 4;

// ---- clock, reset, cycle counter ------------------------------------------------------------
localparam real HALF_PERIOD_NS = CLK_PERIOD_PS / 2000.0;
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg        clk = 1'b0;
reg        rst = 1'b1;
reg [63:0] cycle = 0;
/* verilator lint_on PROCASSINIT */
always #(HALF_PERIOD_NS) clk = ~clk;
always @(posedge clk) cycle <= cycle + 1;

// ---- buses ----------------------------------------------------------------------------------
reg  [15:0] axil_awaddr = 0;
reg         axil_awvalid = 0;
wire        axil_awready;
reg  [31:0] axil_wdata = 0;
reg         axil_wvalid = 0;
wire        axil_wready;
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire [1:0]  axil_bresp;
/* verilator lint_on UNUSEDSIGNAL */
wire        axil_bvalid;
reg  [15:0] axil_araddr = 0;
reg         axil_arvalid = 0;
wire        axil_arready;
wire [31:0] axil_rdata;
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire [1:0]  axil_rresp;
/* verilator lint_on UNUSEDSIGNAL */
wire        axil_rvalid;

wire [ID_WIDTH-1:0]       awid;
wire [63:0]               awaddr;
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire [7:0]                awlen;
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire [2:0]                awsize;
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire [1:0]                awburst;
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire                      awlock;
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire [3:0]                awcache;
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire [2:0]                awprot;
/* verilator lint_on UNUSEDSIGNAL */
wire                      awvalid;
wire                      awready;
wire [DMA_DATA_WIDTH-1:0] wdata;
wire [BPB-1:0]            wstrb;
wire                      wlast;
wire                      wvalid;
wire                      wready;
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg  [ID_WIDTH-1:0]       bid = 0;
reg                       bvalid = 0;
wire                      bready;
wire [ID_WIDTH-1:0]       arid;
wire [63:0]               araddr;
wire [7:0]                arlen;
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire [2:0]                arsize;
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire [1:0]                arburst;
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire                      arlock;
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire [3:0]                arcache;
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire [2:0]                arprot;
/* verilator lint_on UNUSEDSIGNAL */
wire                      arvalid;
wire                      arready;
reg  [ID_WIDTH-1:0]       rid = 0;
reg  [DMA_DATA_WIDTH-1:0] rdata = 0;
reg                       rlast = 0;
reg                       rvalid = 0;
/* verilator lint_on PROCASSINIT */
wire                      rready;

wire [63:0] xgmii_txd;
wire [7:0]  xgmii_txc;
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire        irq;
/* verilator lint_on UNUSEDSIGNAL */

nic_top #(
    .AXIL_ADDR_WIDTH(16),
    .DMA_ADDR_WIDTH(64),
    .DMA_DATA_WIDTH(DMA_DATA_WIDTH),
    .DMA_ID_WIDTH(ID_WIDTH),
    .MAX_FRAME_BYTES(MAX_FRAME_BYTES),
    .DESC_PREFETCH(DESC_PREFETCH)
)
dut (
    .clk(clk), .rst(rst),
    .s_axil_awaddr(axil_awaddr), .s_axil_awprot(3'd0), .s_axil_awvalid(axil_awvalid),
    .s_axil_awready(axil_awready), .s_axil_wdata(axil_wdata), .s_axil_wstrb(4'hF),
    .s_axil_wvalid(axil_wvalid), .s_axil_wready(axil_wready), .s_axil_bresp(axil_bresp),
    .s_axil_bvalid(axil_bvalid), .s_axil_bready(1'b1), .s_axil_araddr(axil_araddr),
    .s_axil_arprot(3'd0), .s_axil_arvalid(axil_arvalid), .s_axil_arready(axil_arready),
    .s_axil_rdata(axil_rdata), .s_axil_rresp(axil_rresp), .s_axil_rvalid(axil_rvalid),
    .s_axil_rready(1'b1),
    .m_axi_awid(awid), .m_axi_awaddr(awaddr), .m_axi_awlen(awlen), .m_axi_awsize(awsize),
    .m_axi_awburst(awburst), .m_axi_awlock(awlock), .m_axi_awcache(awcache),
    .m_axi_awprot(awprot), .m_axi_awvalid(awvalid), .m_axi_awready(awready),
    .m_axi_wdata(wdata), .m_axi_wstrb(wstrb), .m_axi_wlast(wlast), .m_axi_wvalid(wvalid),
    .m_axi_wready(wready), .m_axi_bid(bid), .m_axi_bresp(2'b00), .m_axi_bvalid(bvalid),
    .m_axi_bready(bready),
    .m_axi_arid(arid), .m_axi_araddr(araddr), .m_axi_arlen(arlen), .m_axi_arsize(arsize),
    .m_axi_arburst(arburst), .m_axi_arlock(arlock), .m_axi_arcache(arcache),
    .m_axi_arprot(arprot), .m_axi_arvalid(arvalid), .m_axi_arready(arready),
    .m_axi_rid(rid), .m_axi_rdata(rdata), .m_axi_rresp(2'b00), .m_axi_rlast(rlast),
    .m_axi_rvalid(rvalid), .m_axi_rready(rready),
    .xgmii_txd(xgmii_txd), .xgmii_txc(xgmii_txc),
    .irq(irq),
    // the clock runs freely here
    /* verilator lint_off PINCONNECTEMPTY */
    .quiet(), .irq_tidv_armed(), .irq_tidv_count(), .irq_tadv_armed(), .irq_tadv_count(), .irq_itr_count(),
    /* verilator lint_on PINCONNECTEMPTY */
    .skip_valid(1'b0), .skip_cycles(24'd0)
);

// ---- host memory: AXI4 slave with fixed read latency ----------------------------------------
reg [DMA_DATA_WIDTH-1:0] mem [0:MEM_WORDS-1];

function [31:0] word_index(input [63:0] addr);
    /* verilator lint_off WIDTHTRUNC */ // testbench arithmetic: the implicit truncation is intended and the values fit
    word_index = (addr - MEM_BASE) >> OFF_BITS;
    /* verilator lint_on WIDTHTRUNC */
endfunction

// read address queue (in order)
reg [31:0]         arq_idx   [0:15];
reg [7:0]          arq_len   [0:15];
reg [ID_WIDTH-1:0] arq_id    [0:15];
reg [63:0]         arq_ready [0:15];
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [4:0]          arq_wp = 0;
reg [4:0]          arq_rp = 0;
/* verilator lint_on PROCASSINIT */
wire [4:0]         arq_cnt = arq_wp - arq_rp;
assign arready = !rst && arq_cnt < 16;

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg        r_active = 0;
reg [31:0] r_idx = 0;
reg [7:0]  r_left = 0;
reg [ID_WIDTH-1:0] r_id = 0;
reg [63:0] rd_bursts = 0;
/* verilator lint_on PROCASSINIT */

always @(posedge clk) begin
    if (rst) begin
        arq_wp <= 0;
        arq_rp <= 0;
        r_active <= 0;
        rvalid <= 0;
        rlast <= 0;
    end else begin
        if (arvalid && arready) begin
            arq_idx[arq_wp[3:0]] <= word_index(araddr);
            arq_len[arq_wp[3:0]] <= arlen;
            arq_id[arq_wp[3:0]] <= arid;
            arq_ready[arq_wp[3:0]] <= cycle + RD_LATENCY;
            arq_wp <= arq_wp + 1;
            rd_bursts <= rd_bursts + 1;
        end
        if (!rvalid || rready) begin
            if (r_active) begin
                rdata <= mem[r_idx];
                rvalid <= 1'b1;
                rlast <= r_left == 0;
                rid <= r_id;
                r_idx <= r_idx + 1;
                if (r_left == 0)
                    r_active <= 1'b0;
                r_left <= r_left - 1;
            end else if (arq_cnt != 0 && cycle >= arq_ready[arq_rp[3:0]]) begin
                rdata <= mem[arq_idx[arq_rp[3:0]]];
                rvalid <= 1'b1;
                rlast <= arq_len[arq_rp[3:0]] == 0;
                rid <= arq_id[arq_rp[3:0]];
                r_idx <= arq_idx[arq_rp[3:0]] + 1;
                r_left <= arq_len[arq_rp[3:0]] - 1;
                r_active <= arq_len[arq_rp[3:0]] != 0;
                arq_rp <= arq_rp + 1;
            end else begin
                rvalid <= 1'b0;
                rlast <= 1'b0;
            end
        end
    end
end

// writes: one AW at a time, W beats merged with WSTRB, B at once
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg                aw_busy = 0;
reg [31:0]         w_idx = 0;
reg [ID_WIDTH-1:0] w_id = 0;
reg [63:0]         wr_bursts = 0;
/* verilator lint_on PROCASSINIT */
reg [DMA_DATA_WIDTH-1:0] w_merged;
integer            wb;
assign awready = !rst && !aw_busy && !bvalid;
assign wready = aw_busy;

/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) begin
    if (rst) begin
        aw_busy <= 0;
        bvalid <= 0;
    end else begin
        if (bvalid && bready)
            bvalid <= 1'b0;
        if (awvalid && awready) begin
            aw_busy <= 1'b1;
            w_idx <= word_index(awaddr);
            w_id <= awid;
        end
        if (wvalid && wready) begin
            w_merged = mem[w_idx];
            for (wb = 0; wb < BPB; wb = wb + 1)
                if (wstrb[wb])
                    w_merged[wb*8 +: 8] = wdata[wb*8 +: 8];
            mem[w_idx] <= w_merged;
            w_idx <= w_idx + 1;
            if (wlast) begin
                aw_busy <= 1'b0;
                bvalid <= 1'b1;
                bid <= w_id;
                wr_bursts <= wr_bursts + 1;
            end
        end
    end
end
/* verilator lint_on BLKSEQ */

// ---- wire: XGMII signature checker -------------------------------------------------------------
reg [63:0] exp_sig [0:RING_N-1];
reg [31:0] exp_len [0:RING_N-1];
reg [95:0] sig_line [0:RING_N-1];

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg        in_frame = 0;
reg [63:0] sig = 0;
reg [31:0] nbytes = 0;
reg [31:0] frames = 0;
reg [31:0] good = 0;
reg [31:0] bad = 0;
reg [31:0] slot = 0;
reg [63:0] first_start = 0;
reg [63:0] last_start = 0;
reg [63:0] last_end = 0;
/* verilator lint_on PROCASSINIT */
reg [3:0]  term_lane;
reg [63:0] fin_sig;
reg [31:0] fin_len;
integer    dump_fd = 0;

always @* begin
    casez (xgmii_txc)
        8'b???????1: term_lane = 0;
        8'b??????10: term_lane = 1;
        8'b?????100: term_lane = 2;
        8'b????1000: term_lane = 3;
        8'b???10000: term_lane = 4;
        8'b??100000: term_lane = 5;
        8'b?1000000: term_lane = 6;
        8'b10000000: term_lane = 7;
        default:     term_lane = 8;
    endcase
end

/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) begin
    if (!in_frame) begin
        if (xgmii_txc[0] && xgmii_txd[7:0] == 8'hFB) begin
            in_frame <= 1'b1;
            sig <= 0;
            nbytes <= 0;
            if (frames == 0)
                first_start <= cycle;
            last_start <= cycle;
        end
    end else begin
        if (dump_fd != 0 && frames < DUMP_FRAMES)
            $fwrite(dump_fd, "%0d %016x %02x\n", frames, xgmii_txd, xgmii_txc);
        if (xgmii_txc == 8'h00) begin
            sig <= sig + xgmii_txd;
            nbytes <= nbytes + 8;
        end else begin
            fin_sig = sig + xgmii_txd;
            /* verilator lint_off WIDTHEXPAND */ // testbench arithmetic: the implicit extension is intended and the values fit
            fin_len = nbytes + term_lane;
            /* verilator lint_on WIDTHEXPAND */
            if (term_lane < 8 && xgmii_txd[term_lane*8 +: 8] == 8'hFD
                    && fin_sig == exp_sig[slot] && fin_len == exp_len[slot])
                good <= good + 1;
            else begin
                bad <= bad + 1;
                if (bad < 4)
                    $display("REPLAY_BADFRAME frame=%0d slot=%0d len=%0d exp_len=%0d sig=%016x exp_sig=%016x",
                             frames, slot, fin_len, exp_len[slot], fin_sig, exp_sig[slot]);
            end
            if (frames + 1 == MARK_FRAMES) begin
                $display("REPLAY_MARK frames=%0d cycle=%0d", frames + 1, cycle);
                $fflush;
            end
            slot <= (slot == RING_N - 1) ? 0 : slot + 1;
            frames <= frames + 1;
            last_end <= cycle;
            in_frame <= 1'b0;
        end
    end
end
/* verilator lint_on BLKSEQ */

// ---- CSR sequence ------------------------------------------------------------------------------
// Race-free in any simulator: the tasks drive only at falling edges (blocking assignments) and
// sample a quarter cycle before the rising edge that takes a handshake, so nothing they do
// depends on the order of processes woken by the same rising edge (Verilator resumes a task
// waiting on @(posedge clk) in a different order than Icarus). Cycle for cycle the same bus
// activity as driving with nonblocking assignments right after the rising edge.
localparam real QUARTER_PERIOD_NS = CLK_PERIOD_PS / 4000.0;

// BEGIN generated by scripts/gen_regs.py from hdl/nic/nic_regs.rdl: edit the .rdl, not this block
// register byte offsets this file uses (nic_regs.rdl)
localparam [15:0] REG_TCTL     = 16'h0400;
localparam [15:0] REG_TDBAL    = 16'h3800;
localparam [15:0] REG_TDBAH    = 16'h3804;
localparam [15:0] REG_TDLEN    = 16'h3808;
localparam [15:0] REG_TDH      = 16'h3810;
localparam [15:0] REG_TDT      = 16'h3818;
localparam [15:0] REG_GPTC     = 16'h4080;
localparam [15:0] REG_ERRCAUSE = 16'hF018;
localparam [15:0] REG_TXDROP   = 16'hF020;
// END generated by scripts/gen_regs.py

task axil_write(input [15:0] addr, input [31:0] data);
    reg aw_done, w_done, aw_hs, w_hs, b_hs;
    begin
        @(posedge clk);
        @(negedge clk);
        axil_awaddr = addr;
        axil_awvalid = 1'b1;
        axil_wdata = data;
        axil_wvalid = 1'b1;
        aw_done = 0;
        w_done = 0;
        while (!(aw_done && w_done)) begin
            #(QUARTER_PERIOD_NS);
            aw_hs = axil_awvalid && axil_awready;
            w_hs = axil_wvalid && axil_wready;
            @(negedge clk);
            if (aw_hs) begin
                axil_awvalid = 1'b0;
                aw_done = 1;
            end
            if (w_hs) begin
                axil_wvalid = 1'b0;
                w_done = 1;
            end
        end
        b_hs = 0;
        while (!b_hs) begin
            #(QUARTER_PERIOD_NS);
            b_hs = axil_bvalid;
            @(negedge clk);
        end
    end
endtask

task axil_read(input [15:0] addr, output [31:0] data);
    reg ar_hs, r_hs;
    begin
        @(posedge clk);
        @(negedge clk);
        axil_araddr = addr;
        axil_arvalid = 1'b1;
        ar_hs = 0;
        while (!ar_hs) begin
            #(QUARTER_PERIOD_NS);
            ar_hs = axil_arvalid && axil_arready;
            @(negedge clk);
        end
        axil_arvalid = 1'b0;
        r_hs = 0;
        while (!r_hs) begin
            #(QUARTER_PERIOD_NS);
            r_hs = axil_rvalid;
            data = axil_rdata;
            @(negedge clk);
        end
    end
endtask

reg [1023:0] memfile;
reg [1023:0] sigfile;
reg [1023:0] dumpfile;
integer      posted = 0;
integer      room;
integer      i;
reg [31:0]   gptc = 0;
reg [31:0]   txdrop = 0;
reg [31:0]   errcause = 0;

initial begin
    if (!$value$plusargs("memfile=%s", memfile)) begin
        $display("REPLAY_ERROR no +memfile=<path>");
        $finish;
    end
    if (!$value$plusargs("sigfile=%s", sigfile)) begin
        $display("REPLAY_ERROR no +sigfile=<path>");
        $finish;
    end
    $readmemh(memfile, mem);
    $readmemh(sigfile, sig_line);
    for (i = 0; i < RING_N; i = i + 1) begin
        exp_sig[i] = sig_line[i][95:32];
        exp_len[i] = sig_line[i][31:0];
    end
    if ($value$plusargs("dumpfile=%s", dumpfile))
        dump_fd = $fopen(dumpfile, "w");

    rst = 1'b1;
    repeat (8) @(posedge clk);
    /* verilator lint_off INITIALDLY */ // scheduling of this initial-block assignment is part of the bench's event ordering
    rst <= 1'b0;
    /* verilator lint_on INITIALDLY */
    repeat (4) @(posedge clk);

    axil_write(REG_TDBAL, MEM_BASE[31:0]);
    axil_write(REG_TDBAH, MEM_BASE[63:32]);
    axil_write(REG_TDLEN, RING_N * 16);
    axil_write(REG_TDH, 0);
    axil_write(REG_TDT, 0);
    axil_write(REG_TCTL, TCTL_VALUE);
    posted = (N_FRAMES < RING_N - 1) ? N_FRAMES : RING_N - 1;
    axil_write(REG_TDT, posted % RING_N);  // doorbell
    $display("REPLAY_START cycle=%0d", cycle);
    $fflush;
    while (posted < N_FRAMES) begin
        @(frames);
        room = RING_N - 1 - (posted - frames);
        if (room >= BATCH || posted + room >= N_FRAMES) begin
            posted = (posted + room > N_FRAMES) ? N_FRAMES : posted + room;
            axil_write(REG_TDT, posted % RING_N);
        end
    end
    while (frames < N_FRAMES)
        @(frames);
    repeat (64) @(posedge clk);
    axil_read(REG_GPTC, gptc);
    axil_read(REG_TXDROP, txdrop);
    axil_read(REG_ERRCAUSE, errcause);
    if (dump_fd != 0)
        $fclose(dump_fd);
    $display("REPLAY_DONE frames=%0d good=%0d bad=%0d cycles=%0d first_start=%0d last_start=%0d last_end=%0d gptc=%0d txdrop=%0d errcause=%0d rd_bursts=%0d wr_bursts=%0d",
             frames, good, bad, cycle, first_start, last_start, last_end, gptc, txdrop,
             errcause, rd_bursts, wr_bursts);
    $fflush;
    $finish;
end

always @(posedge clk) begin
    if (cycle == MAX_CYCLES) begin
        $display("REPLAY_TIMEOUT frames=%0d good=%0d bad=%0d cycles=%0d posted=%0d", frames, good, bad,
                 cycle, posted);
        $fflush;
        $finish;
    end
end

endmodule

`resetall
