/*
 * hilnic -- simulation only: independent AXI4 / AXI4-Lite protocol checker (monitor).
 *
 * Watches the DMA bus (AXI4) and the CSR bus (AXI4-Lite) and latches every rule violation:
 * err_mask gets bit <code>, err_count counts events, err_first_code / err_first_cycle keep
 * the first one, err_last_code / err_last_cycle the latest. The first ERR_DISPLAY events are
 * also printed with the cycle. Python (hilnic.hw.bridge.CHECKER_CODES) turns them into a
 * test failure. Codes:
 *
 *   1 AR valid dropped before ready      2 AR payload changed while stalled
 *   3 AW valid dropped before ready      4 AW payload changed while stalled
 *   5 W valid dropped before ready       6 W payload changed while stalled
 *   7 R valid dropped before ready       8 R payload changed while stalled
 *   9 B valid dropped before ready      10 B payload changed while stalled
 *  11 AR burst crosses a 4 KiB boundary 12 AW burst crosses a 4 KiB boundary
 *  13 AR burst not INCR or size > bus   14 AW burst not INCR or size > bus
 *  15 WLAST not on the last beat (beats != AWLEN+1)
 *  16 RLAST not on the last beat (beats != ARLEN+1 for that ID)
 *  17 R with an ID that has no read outstanding
 *  18 B with an ID that has no write outstanding
 *  19 X/Z on a valid or ready, or on address/control during a valid
 *  20 valid asserted while in reset (after its first cycle)
 *  21 AXI-Lite AW valid dropped / payload changed
 *  22 AXI-Lite W valid dropped / payload changed
 *  23 AXI-Lite AR valid dropped / payload changed
 *  24 AXI-Lite R valid dropped / payload changed
 *  25 AXI-Lite B valid dropped / payload changed
 *  26 AXI-Lite response without an outstanding request
 *  27 checker tracking overflow (too many outstanding; checks degraded)
 *  28 B before all W beats of the burst were transferred
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module tb_axi_checker #
(
    // AXI data width
    parameter DATA_WIDTH = 128,
    // AXI address width
    parameter ADDR_WIDTH = 64,
    // AXI ID width (1..8)
    parameter ID_WIDTH = 4,
    // AXI-Lite address width
    parameter AXIL_ADDR_WIDTH = 16,
    // reads tracked per ID
    parameter PER_ID_DEPTH = 16,
    // violations printed
    parameter ERR_DISPLAY = 10
)
(
    input  wire                       clk,
    input  wire                       rst,
    input  wire [63:0]                cycle,

    input  wire [ID_WIDTH-1:0]        axi_awid,
    input  wire [ADDR_WIDTH-1:0]      axi_awaddr,
    input  wire [7:0]                 axi_awlen,
    input  wire [2:0]                 axi_awsize,
    input  wire [1:0]                 axi_awburst,
    input  wire                       axi_awlock,
    input  wire [3:0]                 axi_awcache,
    input  wire [2:0]                 axi_awprot,
    input  wire                       axi_awvalid,
    input  wire                       axi_awready,
    input  wire [DATA_WIDTH-1:0]      axi_wdata,
    input  wire [DATA_WIDTH/8-1:0]    axi_wstrb,
    input  wire                       axi_wlast,
    input  wire                       axi_wvalid,
    input  wire                       axi_wready,
    input  wire [ID_WIDTH-1:0]        axi_bid,
    input  wire [1:0]                 axi_bresp,
    input  wire                       axi_bvalid,
    input  wire                       axi_bready,
    input  wire [ID_WIDTH-1:0]        axi_arid,
    input  wire [ADDR_WIDTH-1:0]      axi_araddr,
    input  wire [7:0]                 axi_arlen,
    input  wire [2:0]                 axi_arsize,
    input  wire [1:0]                 axi_arburst,
    input  wire                       axi_arlock,
    input  wire [3:0]                 axi_arcache,
    input  wire [2:0]                 axi_arprot,
    input  wire                       axi_arvalid,
    input  wire                       axi_arready,
    input  wire [ID_WIDTH-1:0]        axi_rid,
    input  wire [DATA_WIDTH-1:0]      axi_rdata,
    input  wire [1:0]                 axi_rresp,
    input  wire                       axi_rlast,
    input  wire                       axi_rvalid,
    input  wire                       axi_rready,

    input  wire [AXIL_ADDR_WIDTH-1:0] axil_awaddr,
    input  wire [2:0]                 axil_awprot,
    input  wire                       axil_awvalid,
    input  wire                       axil_awready,
    input  wire [31:0]                axil_wdata,
    input  wire [3:0]                 axil_wstrb,
    input  wire                       axil_wvalid,
    input  wire                       axil_wready,
    input  wire [1:0]                 axil_bresp,
    input  wire                       axil_bvalid,
    input  wire                       axil_bready,
    input  wire [AXIL_ADDR_WIDTH-1:0] axil_araddr,
    input  wire [2:0]                 axil_arprot,
    input  wire                       axil_arvalid,
    input  wire                       axil_arready,
    input  wire [31:0]                axil_rdata,
    input  wire [1:0]                 axil_rresp,
    input  wire                       axil_rvalid,
    input  wire                       axil_rready
);

localparam NIDS = 1 << ID_WIDTH;
localparam DEPTH_W = $clog2(PER_ID_DEPTH);
localparam MAX_SIZE = $clog2(DATA_WIDTH / 8);

initial begin
    if (ID_WIDTH < 1 || ID_WIDTH > 8) begin
        $error("%m: ID_WIDTH must be 1..8");
        $finish;
    end
end

// ---- results (read by Python) --------------------------------------------------------
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [31:0] err_mask = 0;
reg [31:0] err_count = 0;
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [7:0]  err_first_code = 0;
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [63:0] err_first_cycle = 0;
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [7:0]  err_last_code = 0;
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [63:0] err_last_cycle = 0;
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_on PROCASSINIT */

reg [31:0] viol;  // violations found this cycle (bit per code)

// ---- payloads for stability checks ----------------------------------------------------
localparam AX_W = ID_WIDTH + ADDR_WIDTH + 8 + 3 + 2 + 1 + 4 + 3;
localparam W_W = DATA_WIDTH + DATA_WIDTH/8 + 1;
localparam R_W = ID_WIDTH + DATA_WIDTH + 2 + 1;
localparam B_W = ID_WIDTH + 2;
localparam LA_W = AXIL_ADDR_WIDTH + 3;

// Payloads are concatenated only where the general path compares or stores them (as
// continuous wires they would be rebuilt on every R beat).
`define TB_AXI_CHK_AR_PL {axi_arid, axi_araddr, axi_arlen, axi_arsize, axi_arburst, axi_arlock, axi_arcache, axi_arprot}
`define TB_AXI_CHK_AW_PL {axi_awid, axi_awaddr, axi_awlen, axi_awsize, axi_awburst, axi_awlock, axi_awcache, axi_awprot}
`define TB_AXI_CHK_W_PL  {axi_wdata, axi_wstrb, axi_wlast}
`define TB_AXI_CHK_R_PL  {axi_rid, axi_rdata, axi_rresp, axi_rlast}
`define TB_AXI_CHK_B_PL  {axi_bid, axi_bresp}

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [AX_W-1:0] ar_pl_q = 0;
reg [AX_W-1:0] aw_pl_q = 0;
reg [W_W-1:0]  w_pl_q = 0;
reg [R_W-1:0]  r_pl_q = 0;
reg [B_W-1:0]  b_pl_q = 0;
reg [LA_W-1:0] lar_pl_q = 0;
reg [LA_W-1:0] law_pl_q = 0;
reg [35:0]     lw_pl_q = 0;
reg [33:0]     lr_pl_q = 0;
reg [1:0]      lb_pl_q = 0;
reg ar_stall_q = 0, aw_stall_q = 0, w_stall_q = 0, r_stall_q = 0, b_stall_q = 0;
reg lar_stall_q = 0, law_stall_q = 0, lw_stall_q = 0, lr_stall_q = 0, lb_stall_q = 0;
reg rst_q = 0;

// ---- burst tracking -------------------------------------------------------------------
// reads: per ID, a FIFO of ARLEN and a beat counter
reg [7:0]         rd_len_mem [0:NIDS*PER_ID_DEPTH-1];
reg [DEPTH_W:0]   rd_cnt [0:NIDS-1];
reg [DEPTH_W-1:0] rd_wp [0:NIDS-1];
reg [DEPTH_W-1:0] rd_rp [0:NIDS-1];
reg [7:0]         rd_beat [0:NIDS-1];
// writes: FIFO of AWLEN (+ID) in AW order, FIFO of W burst beat counts in W order
reg [7:0]         aw_len_mem [0:31];
reg [4:0]         aw_wp = 0, aw_rp = 0;
reg [5:0]         aw_n = 0;
reg [8:0]         wb_mem [0:31];
reg [4:0]         wb_wp = 0, wb_rp = 0;
reg [5:0]         wb_n = 0;
reg [8:0]         w_beats = 0;
// per ID: writes whose AW has been seen and whose B has not
reg [15:0]        wr_out [0:NIDS-1];
// writes whose last W beat has been seen and whose B has not (any ID)
reg [15:0]        w_done_n = 0;
// AXI-Lite
reg [7:0]         l_ar_out = 0, l_aw_out = 0, l_w_out = 0;
/* verilator lint_on PROCASSINIT */

integer n;
initial begin
    for (n = 0; n < NIDS*PER_ID_DEPTH; n = n + 1) rd_len_mem[n] = 0;
    for (n = 0; n < NIDS; n = n + 1) begin
        rd_cnt[n] = 0; rd_wp[n] = 0; rd_rp[n] = 0; rd_beat[n] = 0; wr_out[n] = 0;
    end
    for (n = 0; n < 32; n = n + 1) begin
        aw_len_mem[n] = 0; wb_mem[n] = 0;
    end
end

function crosses_4k;
    input [ADDR_WIDTH-1:0] addr;
    input [7:0] len;
    input [2:0] size;
    /* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
    reg [ADDR_WIDTH-1:0] start, last;
    /* verilator lint_on UNUSEDSIGNAL */
    begin
        start = (addr >> size) << size;
        /* verilator lint_off WIDTHEXPAND */ // testbench arithmetic: the implicit extension is intended and the values fit
        last = start + ((len + 1) << size) - 1;
        /* verilator lint_on WIDTHEXPAND */
        crosses_4k = (start[ADDR_WIDTH-1:12] != last[ADDR_WIDTH-1:12]);
    end
endfunction

wire ar_hs = axi_arvalid && axi_arready;
wire aw_hs = axi_awvalid && axi_awready;
wire w_hs = axi_wvalid && axi_wready;
wire r_hs = axi_rvalid && axi_rready;
wire b_hs = axi_bvalid && axi_bready;

reg [7:0] exp_len;
reg [7:0] cur_beat;
reg [8:0] beats_done;
reg       ar_push, r_pop, b_dec;

// R beat cache: the burst at the head of ID rc_id's FIFO, whose beat count lives here
// instead of in rd_beat[] while rc_ok: beat = rc_base - rc_cnt[7:0], and rc_cnt[8] = 0 while
// at least one more beat before the expected last one may come (those beats take the fast
// path below and only decrement rc_cnt).
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg          rc_ok = 1'b0;
reg [ID_WIDTH-1:0] rc_id = 0;
reg [7:0]    rc_base = 0;
reg [8:0]    rc_cnt = 9'h1FF;
/* verilator lint_on PROCASSINIT */

// X/Z on any valid/ready: a continuous test, re-evaluated only when one of them changes
wire hs_x = (^{axi_arvalid, axi_arready, axi_awvalid, axi_awready, axi_wvalid, axi_wready,
               axi_rvalid, axi_rready, axi_bvalid, axi_bready,
               axil_arvalid, axil_arready, axil_awvalid, axil_awready, axil_wvalid, axil_wready,
               axil_rvalid, axil_rready, axil_bvalid, axil_bready}) === 1'bx;
wire axil_act = axil_arvalid | axil_awvalid | axil_wvalid | axil_rvalid | axil_bvalid;

// Gates of the per-cycle work (continuous: re-evaluated only when an input changes).
// `others`: anything but an R beat needs the general path (a valid, a stalled channel, a
// write burst being paired, reset or its first cycle after, X/Z on a valid or ready);
// `quiet`: nothing at all to check this cycle; `r_fast`: the only event is an R beat in
// the middle of the cached burst (not its last beat, not RLAST), which only counts.
// Any X on a valid makes these X, and `if` then takes the general path.
// `ar_only`: besides AR (a request, or one stalled: the NIC often waits for ARREADY while
// R beats stream), at most an R beat that `r_fast` would take; checked by a short path.
wire stq_nar = aw_stall_q | w_stall_q | r_stall_q | b_stall_q
             | lar_stall_q | law_stall_q | lw_stall_q | lr_stall_q | lb_stall_q
             | rst_q | (aw_n != 0) | (wb_n != 0);
wire others_nar = axi_awvalid | axi_wvalid | axi_bvalid | axil_act | rst | stq_nar | hs_x;
wire others = others_nar | axi_arvalid | ar_stall_q;
wire quiet = !(others | axi_rvalid);
wire r_mid = axi_rvalid & axi_rready & !axi_rlast & rc_ok & (axi_rid == rc_id) & !rc_cnt[8];
wire r_fast = !others & r_mid;
wire ar_only = !others_nar & (!axi_rvalid | r_mid);

`define TB_AXI_CHK_AR_CHECK \
            if (ar_stall_q && !axi_arvalid) viol[1] = 1'b1; \
            if (ar_stall_q && axi_arvalid && `TB_AXI_CHK_AR_PL !== ar_pl_q) viol[2] = 1'b1; \
            ar_stall_q <= axi_arvalid && !axi_arready; \
            if (axi_arvalid && !ar_stall_q) ar_pl_q <= `TB_AXI_CHK_AR_PL; \
            if (axi_arvalid && (^`TB_AXI_CHK_AR_PL) === 1'bx) viol[19] = 1'b1;

// Speed: Icarus pays per executed statement, so each channel is checked only in cycles in
// which it is valid or was stalled; an idle bus costs a handful of tests per cycle.
/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) begin
  if (quiet) begin
    // idle buses: nothing to check
  end else if (r_fast) begin
    rc_cnt <= rc_cnt - 1'b1;
  end else begin
    viol = 0;
    if (ar_only) begin
        // what the general path does with only AR and a middle R beat (no reset, no X, no
        // other channel or stall; a middle beat of the cached burst never pops a burst)
        `TB_AXI_CHK_AR_CHECK
        if (ar_hs) begin
            if (crosses_4k(axi_araddr, axi_arlen, axi_arsize)) viol[11] = 1'b1;
            /* verilator lint_off WIDTHEXPAND */ // testbench arithmetic: the implicit extension is intended and the values fit
            if (axi_arburst != 2'b01 || axi_arsize > MAX_SIZE) viol[13] = 1'b1;
            /* verilator lint_on WIDTHEXPAND */
            if (rd_cnt[axi_arid] == PER_ID_DEPTH) begin
                viol[27] = 1'b1;
            end else begin
                rd_len_mem[{axi_arid, rd_wp[axi_arid]}] <= axi_arlen;
                rd_wp[axi_arid] <= rd_wp[axi_arid] + 1;
                rd_cnt[axi_arid] <= rd_cnt[axi_arid] + 1;
            end
        end
        if (axi_rvalid) rc_cnt <= rc_cnt - 1'b1;
    end else begin
    if (rst) begin
        // valids must be low in reset (one cycle of grace for synchronous resets)
        if (rst_q && (axi_arvalid === 1'b1 || axi_awvalid === 1'b1 || axi_wvalid === 1'b1
                || axil_rvalid === 1'b1 || axil_bvalid === 1'b1)) viol[20] = 1'b1;
        if (!rst_q) begin
            for (n = 0; n < NIDS; n = n + 1) begin
                rd_cnt[n] <= 0; rd_wp[n] <= 0; rd_rp[n] <= 0; rd_beat[n] <= 0; wr_out[n] <= 0;
            end
        end
        rc_ok <= 1'b0;
        rc_cnt <= 9'h1FF;
        aw_wp <= 0; aw_rp <= 0; aw_n <= 0;
        wb_wp <= 0; wb_rp <= 0; wb_n <= 0;
        w_beats <= 0;
        w_done_n <= 0;
        l_ar_out <= 0; l_aw_out <= 0; l_w_out <= 0;
        ar_stall_q <= 0; aw_stall_q <= 0; w_stall_q <= 0; r_stall_q <= 0; b_stall_q <= 0;
        lar_stall_q <= 0; law_stall_q <= 0; lw_stall_q <= 0; lr_stall_q <= 0; lb_stall_q <= 0;
    end else begin
        if (hs_x) viol[19] = 1'b1;

        // ---- AR ----
        if (axi_arvalid || ar_stall_q) begin
            `TB_AXI_CHK_AR_CHECK
        end

        // ---- AW ----
        if (axi_awvalid || aw_stall_q) begin
            if (aw_stall_q && !axi_awvalid) viol[3] = 1'b1;
            if (aw_stall_q && axi_awvalid && `TB_AXI_CHK_AW_PL !== aw_pl_q) viol[4] = 1'b1;
            aw_stall_q <= axi_awvalid && !axi_awready;
            if (axi_awvalid && !aw_stall_q) aw_pl_q <= `TB_AXI_CHK_AW_PL;
            if (axi_awvalid && (^`TB_AXI_CHK_AW_PL) === 1'bx) viol[19] = 1'b1;
            if (aw_hs) begin
                if (crosses_4k(axi_awaddr, axi_awlen, axi_awsize)) viol[12] = 1'b1;
                /* verilator lint_off WIDTHEXPAND */ // testbench arithmetic: the implicit extension is intended and the values fit
                if (axi_awburst != 2'b01 || axi_awsize > MAX_SIZE) viol[14] = 1'b1;
                /* verilator lint_on WIDTHEXPAND */
            end
        end

        // ---- W ----
        if (axi_wvalid || w_stall_q) begin
            if (w_stall_q && !axi_wvalid) viol[5] = 1'b1;
            if (w_stall_q && axi_wvalid && `TB_AXI_CHK_W_PL !== w_pl_q) viol[6] = 1'b1;
            w_stall_q <= axi_wvalid && !axi_wready;
            if (axi_wvalid && !axi_wready && !w_stall_q) w_pl_q <= `TB_AXI_CHK_W_PL;
            if (axi_wvalid && (^{axi_wstrb, axi_wlast}) === 1'bx) viol[19] = 1'b1;
        end

        // ---- R (slave side) ----
        if (axi_rvalid || r_stall_q) begin
            if (r_stall_q && !axi_rvalid) viol[7] = 1'b1;
            if (r_stall_q && axi_rvalid && `TB_AXI_CHK_R_PL !== r_pl_q) viol[8] = 1'b1;
            r_stall_q <= axi_rvalid && !axi_rready;
            if (axi_rvalid && !axi_rready && !r_stall_q) r_pl_q <= `TB_AXI_CHK_R_PL;
        end

        // ---- B (slave side) ----
        if (axi_bvalid || b_stall_q) begin
            if (b_stall_q && !axi_bvalid) viol[9] = 1'b1;
            if (b_stall_q && axi_bvalid && `TB_AXI_CHK_B_PL !== b_pl_q) viol[10] = 1'b1;
            b_stall_q <= axi_bvalid && !axi_bready;
            if (axi_bvalid && !b_stall_q) b_pl_q <= `TB_AXI_CHK_B_PL;
        end

        // ---- read bursts ----
        if (ar_hs || r_hs) begin
            ar_push = 1'b0;
            r_pop = 1'b0;
            if (ar_hs) begin
                if (crosses_4k(axi_araddr, axi_arlen, axi_arsize)) viol[11] = 1'b1;
                /* verilator lint_off WIDTHEXPAND */ // testbench arithmetic: the implicit extension is intended and the values fit
                if (axi_arburst != 2'b01 || axi_arsize > MAX_SIZE) viol[13] = 1'b1;
                /* verilator lint_on WIDTHEXPAND */
                if (rd_cnt[axi_arid] == PER_ID_DEPTH) begin
                    viol[27] = 1'b1;
                end else begin
                    ar_push = 1'b1;
                    rd_len_mem[{axi_arid, rd_wp[axi_arid]}] <= axi_arlen;
                    rd_wp[axi_arid] <= rd_wp[axi_arid] + 1;
                end
            end
            if (r_hs) begin
                if (rd_cnt[axi_rid] == 0) begin
                    viol[17] = 1'b1;
                end else begin
                    exp_len = rd_len_mem[{axi_rid, rd_rp[axi_rid]}];
                    cur_beat = (rc_ok && axi_rid == rc_id) ? rc_base - rc_cnt[7:0] : rd_beat[axi_rid];
                    if (axi_rlast != (cur_beat == exp_len)) viol[16] = 1'b1;
                    // the cache moves to this ID (the previous one's count goes back first)
                    if (rc_ok && axi_rid != rc_id) rd_beat[rc_id] <= rc_base - rc_cnt[7:0];
                    if (axi_rlast || cur_beat == exp_len) begin
                        rd_beat[axi_rid] <= 0;
                        rd_rp[axi_rid] <= rd_rp[axi_rid] + 1;
                        r_pop = 1'b1;
                        rc_ok <= 1'b0;
                    end else begin
                        rd_beat[axi_rid] <= cur_beat + 1;
                        rc_ok <= 1'b1;
                        rc_id <= axi_rid;
                        rc_base <= exp_len - 1'b1;
                        rc_cnt <= {1'b0, exp_len} - {1'b0, cur_beat} - 9'd2;
                    end
                end
            end
            if (!(ar_push && r_pop && axi_arid == axi_rid)) begin
                if (ar_push) rd_cnt[axi_arid] <= rd_cnt[axi_arid] + 1;
                if (r_pop) rd_cnt[axi_rid] <= rd_cnt[axi_rid] - 1;
            end
        end

        // ---- write bursts ----
        if (aw_hs || w_hs || b_hs || aw_n != 0 || wb_n != 0) begin
            if (aw_hs) begin
                if (aw_n == 32) begin
                    viol[27] = 1'b1;
                end else begin
                    aw_len_mem[aw_wp] <= axi_awlen;
                    aw_wp <= aw_wp + 1;
                end
            end
            beats_done = 0;
            if (w_hs) begin
                if (axi_wlast || w_beats == 255) begin
                    beats_done = w_beats + 1;
                    w_beats <= 0;
                end else begin
                    w_beats <= w_beats + 1;
                end
            end
            if (beats_done != 0) begin
                if (wb_n == 32) begin
                    viol[27] = 1'b1;
                end else begin
                    wb_mem[wb_wp] <= beats_done;
                    wb_wp <= wb_wp + 1;
                end
            end
            // pair one AW with one W burst per cycle
            if (aw_n != 0 && wb_n != 0) begin
                if (wb_mem[wb_rp] != aw_len_mem[aw_rp] + 9'd1) viol[15] = 1'b1;
                aw_rp <= aw_rp + 1;
                wb_rp <= wb_rp + 1;
            end
            aw_n <= aw_n + (aw_hs && aw_n != 32) - (aw_n != 0 && wb_n != 0);
            wb_n <= wb_n + (beats_done != 0 && wb_n != 32) - (aw_n != 0 && wb_n != 0);
            w_done_n <= w_done_n + (beats_done != 0) - (b_hs && w_done_n != 0);
            if (b_hs && w_done_n == 0) viol[28] = 1'b1;
            b_dec = 1'b0;
            if (b_hs) begin
                if (wr_out[axi_bid] == 0) viol[18] = 1'b1;
                else b_dec = 1'b1;
            end
            if (!(aw_hs && b_dec && axi_awid == axi_bid)) begin
                if (aw_hs) wr_out[axi_awid] <= wr_out[axi_awid] + 1;
                if (b_dec) wr_out[axi_bid] <= wr_out[axi_bid] - 1;
            end
        end

        // ---- AXI-Lite ----
        if (axil_act || lar_stall_q || law_stall_q || lw_stall_q || lr_stall_q || lb_stall_q) begin
            if ((lar_stall_q && !axil_arvalid) || (lar_stall_q && axil_arvalid && {axil_araddr, axil_arprot} !== lar_pl_q)) viol[23] = 1'b1;
            if ((law_stall_q && !axil_awvalid) || (law_stall_q && axil_awvalid && {axil_awaddr, axil_awprot} !== law_pl_q)) viol[21] = 1'b1;
            if ((lw_stall_q && !axil_wvalid) || (lw_stall_q && axil_wvalid && {axil_wdata, axil_wstrb} !== lw_pl_q)) viol[22] = 1'b1;
            if ((lr_stall_q && !axil_rvalid) || (lr_stall_q && axil_rvalid && {axil_rdata, axil_rresp} !== lr_pl_q)) viol[24] = 1'b1;
            if ((lb_stall_q && !axil_bvalid) || (lb_stall_q && axil_bvalid && axil_bresp !== lb_pl_q)) viol[25] = 1'b1;
            lar_stall_q <= axil_arvalid && !axil_arready;
            law_stall_q <= axil_awvalid && !axil_awready;
            lw_stall_q <= axil_wvalid && !axil_wready;
            lr_stall_q <= axil_rvalid && !axil_rready;
            lb_stall_q <= axil_bvalid && !axil_bready;
            lar_pl_q <= {axil_araddr, axil_arprot};
            law_pl_q <= {axil_awaddr, axil_awprot};
            lw_pl_q <= {axil_wdata, axil_wstrb};
            lr_pl_q <= {axil_rdata, axil_rresp};
            lb_pl_q <= axil_bresp;
            if (axil_rvalid && axil_rready && l_ar_out == 0) viol[26] = 1'b1;
            if (axil_bvalid && axil_bready && (l_aw_out == 0 || l_w_out == 0)) viol[26] = 1'b1;
            l_ar_out <= l_ar_out + (axil_arvalid && axil_arready) - (axil_rvalid && axil_rready && l_ar_out != 0);
            l_aw_out <= l_aw_out + (axil_awvalid && axil_awready) - (axil_bvalid && axil_bready && l_aw_out != 0 && l_w_out != 0);
            l_w_out <= l_w_out + (axil_wvalid && axil_wready) - (axil_bvalid && axil_bready && l_aw_out != 0 && l_w_out != 0);
        end
    end
    if (rst != rst_q) rst_q <= rst;
    end

    if (viol != 0) begin
        if (err_count < ERR_DISPLAY) begin
            $display("%0t %m: AXI protocol violation(s) %b (bit = code) at cycle %0d", $time, viol, cycle);
            if (viol[19])
                $display("    AXI ar %b%b aw %b%b w %b%b r %b%b b %b%b | AXI-Lite ar %b%b aw %b%b w %b%b r %b%b b %b%b (valid,ready)",
                    axi_arvalid, axi_arready, axi_awvalid, axi_awready, axi_wvalid, axi_wready,
                    axi_rvalid, axi_rready, axi_bvalid, axi_bready,
                    axil_arvalid, axil_arready, axil_awvalid, axil_awready, axil_wvalid, axil_wready,
                    axil_rvalid, axil_rready, axil_bvalid, axil_bready);
        end
        err_mask <= err_mask | viol;
        err_count <= err_count + 1;
        if (err_count == 0) begin
            /* verilator lint_off WIDTHTRUNC */ // testbench arithmetic: the implicit truncation is intended and the values fit
            for (n = 31; n >= 1; n = n - 1) if (viol[n]) err_first_code <= n;
            /* verilator lint_on WIDTHTRUNC */
            err_first_cycle <= cycle;
        end
        /* verilator lint_off WIDTHTRUNC */ // testbench arithmetic: the implicit truncation is intended and the values fit
        for (n = 31; n >= 1; n = n - 1) if (viol[n]) err_last_code <= n;
        /* verilator lint_on WIDTHTRUNC */
        err_last_cycle <= cycle;
    end
  end
end
/* verilator lint_on BLKSEQ */

endmodule

`resetall
