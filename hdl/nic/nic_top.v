/*
 * hilnic -- NIC top level (docs/nic.md section 1)
 * Transmit-only e1000-style NIC: descriptor ring, DMA, checksum, 10G XGMII MAC.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_top #
(
    // width of the AXI-Lite CSR address bus
    parameter AXIL_ADDR_WIDTH = 16,
    // width of the DMA address bus
    parameter DMA_ADDR_WIDTH = 64,
    // width of the DMA data bus (64, 128 or 256)
    parameter DMA_DATA_WIDTH = 128,
    // width of the AXI ID signals
    parameter DMA_ID_WIDTH = 4,
    // largest frame sent, in bytes, without FCS
    parameter MAX_FRAME_BYTES = 9216,
    // descriptors fetched per burst at most
    parameter DESC_PREFETCH = 8
)
(
    input  wire                          clk,
    input  wire                          rst,

    /*
     * AXI-Lite CSR slave
     */
    input  wire [AXIL_ADDR_WIDTH-1:0]    s_axil_awaddr,
    /* verilator lint_off UNUSEDSIGNAL */ // AXI-Lite protection attributes are ignored (docs/nic.md section 1)
    input  wire [2:0]                    s_axil_awprot,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                          s_axil_awvalid,
    output wire                          s_axil_awready,
    input  wire [31:0]                   s_axil_wdata,
    input  wire [3:0]                    s_axil_wstrb,
    input  wire                          s_axil_wvalid,
    output wire                          s_axil_wready,
    output wire [1:0]                    s_axil_bresp,
    output wire                          s_axil_bvalid,
    input  wire                          s_axil_bready,
    input  wire [AXIL_ADDR_WIDTH-1:0]    s_axil_araddr,
    /* verilator lint_off UNUSEDSIGNAL */ // AXI-Lite protection attributes are ignored (docs/nic.md section 1)
    input  wire [2:0]                    s_axil_arprot,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                          s_axil_arvalid,
    output wire                          s_axil_arready,
    output wire [31:0]                   s_axil_rdata,
    output wire [1:0]                    s_axil_rresp,
    output wire                          s_axil_rvalid,
    input  wire                          s_axil_rready,

    /*
     * AXI4 DMA master
     */
    output wire [DMA_ID_WIDTH-1:0]       m_axi_awid,
    output wire [DMA_ADDR_WIDTH-1:0]     m_axi_awaddr,
    output wire [7:0]                    m_axi_awlen,
    output wire [2:0]                    m_axi_awsize,
    output wire [1:0]                    m_axi_awburst,
    output wire                          m_axi_awlock,
    output wire [3:0]                    m_axi_awcache,
    output wire [2:0]                    m_axi_awprot,
    output wire                          m_axi_awvalid,
    input  wire                          m_axi_awready,
    output wire [DMA_DATA_WIDTH-1:0]     m_axi_wdata,
    output wire [DMA_DATA_WIDTH/8-1:0]   m_axi_wstrb,
    output wire                          m_axi_wlast,
    output wire                          m_axi_wvalid,
    input  wire                          m_axi_wready,
    input  wire [DMA_ID_WIDTH-1:0]       m_axi_bid,
    input  wire [1:0]                    m_axi_bresp,
    input  wire                          m_axi_bvalid,
    output wire                          m_axi_bready,
    output wire [DMA_ID_WIDTH-1:0]       m_axi_arid,
    output wire [DMA_ADDR_WIDTH-1:0]     m_axi_araddr,
    output wire [7:0]                    m_axi_arlen,
    output wire [2:0]                    m_axi_arsize,
    output wire [1:0]                    m_axi_arburst,
    output wire                          m_axi_arlock,
    output wire [3:0]                    m_axi_arcache,
    output wire [2:0]                    m_axi_arprot,
    output wire                          m_axi_arvalid,
    input  wire                          m_axi_arready,
    input  wire [DMA_ID_WIDTH-1:0]       m_axi_rid,
    input  wire [DMA_DATA_WIDTH-1:0]     m_axi_rdata,
    input  wire [1:0]                    m_axi_rresp,
    input  wire                          m_axi_rlast,
    input  wire                          m_axi_rvalid,
    output wire                          m_axi_rready,

    /*
     * XGMII transmit
     */
    output wire [63:0]                   xgmii_txd,
    output wire [7:0]                    xgmii_txc,

    /*
     * Interrupt
     */
    output wire                          irq,

    /*
     * Clock gate (README.md, "Gating the clock"). quiet: with the inputs as they are, the next
     * clock edge changes nothing but the interrupt timers: every block idle, no AXI or
     * AXI-Lite transaction in progress, XGMII idle. irq_*: the interrupt timers, each one
     * down per edge while it runs: a delay (TIDV, TADV) runs while armed and expires at the
     * edge where its count is 1; the throttle (ITR) runs while its count is not 0 and ends
     * at the edge where it goes to 0. So while quiet, the next N - 1 edges change nothing
     * else, N the least running count. skip_valid / skip_cycles: the edges a harness skipped
     * while quiet (at most N - 2), given with the edge that restarts the clock; tie both to
     * 0 when the clock is not gated.
     */
    output wire                          quiet,
    output wire                          irq_tidv_armed,
    output wire [23:0]                   irq_tidv_count,
    output wire                          irq_tadv_armed,
    output wire [23:0]                   irq_tadv_count,
    output wire [21:0]                   irq_itr_count,
    input  wire                          skip_valid,
    input  wire [23:0]                   skip_cycles
);


localparam BYTES = DMA_DATA_WIDTH/8;
localparam WS = $clog2(BYTES);
// frame buffer: a power of two holding at least two maximum-size frames
localparam FB_ADDR_WIDTH = $clog2(2*(MAX_FRAME_BYTES+4+BYTES)) - WS;
localparam DESC_FIFO_LOG2 = $clog2(4*DESC_PREFETCH);

`include "nic_records.vh"

// parameter checks
initial begin
    if (DMA_DATA_WIDTH != 64 && DMA_DATA_WIDTH != 128 && DMA_DATA_WIDTH != 256) begin
        $error("Error: DMA_DATA_WIDTH must be 64, 128 or 256 (instance %m)");
        $fatal(1, "nic_top: illegal parameter");
    end
    if (AXIL_ADDR_WIDTH < 16) begin
        $error("Error: AXIL_ADDR_WIDTH must be at least 16 (instance %m)");
        $fatal(1, "nic_top: illegal parameter");
    end
    if (DMA_ADDR_WIDTH < 16 || DMA_ADDR_WIDTH > 64) begin
        $error("Error: DMA_ADDR_WIDTH must be 16..64 (instance %m)");
        $fatal(1, "nic_top: illegal parameter");
    end
    if (DMA_ID_WIDTH < 1) begin
        $error("Error: DMA_ID_WIDTH must be at least 1 (instance %m)");
        $fatal(1, "nic_top: illegal parameter");
    end
    if (MAX_FRAME_BYTES < 60 || MAX_FRAME_BYTES > 65000) begin
        $error("Error: MAX_FRAME_BYTES must be 60..65000 (instance %m)");
        $fatal(1, "nic_top: illegal parameter");
    end
    if (DESC_PREFETCH < 1 || DESC_PREFETCH > 64) begin
        $error("Error: DESC_PREFETCH must be 1..64 (instance %m)");
        $fatal(1, "nic_top: illegal parameter");
    end
end

// ---------------- CSR ----------------
wire        tctl_en, tctl_psp;
wire [63:0] tdba;
wire [16:0] ndesc;
wire [15:0] tdh, tdt, itr, tidv, tadv;
wire [5:0]  wthresh;
wire        hwb_en;
wire [63:0] hwb_addr;
wire [31:0] icr, ims;
wire        drain, halt, dp_rst, full_rst, dp_idle;

wire        ev_tdh_inc, ev_txdw, ev_rd_err, ev_wr_err, ev_too_long, ev_dext, ev_zero;
wire [63:0] ev_rd_err_addr, ev_wr_err_addr, ev_dext_addr;

wire [31:0] stat_gptc, stat_gotch_latch, stat_tpt;
wire [63:0] stat_gotc;
wire        stat_clr_gptc, stat_clr_gotcl, stat_clr_gotch, stat_clr_tpt;

wire        core_rst = rst || dp_rst;

// activity of each block and the interrupt timers' state, for `quiet`
wire        csr_active, fetch_active, desc_fifo_active, frame_active, rd_active, csum_active;
wire        mac_active, wb_active, stats_active, irq_quiet;
wire        all_rst = rst || full_rst;

nic_csr #(
    .AXIL_ADDR_WIDTH(AXIL_ADDR_WIDTH),
    .DMA_DATA_WIDTH(DMA_DATA_WIDTH),
    .DESC_PREFETCH(DESC_PREFETCH),
    .MAX_FRAME_BYTES(MAX_FRAME_BYTES)
)
nic_csr_inst (
    .clk(clk),
    .rst(rst),
    .s_axil_awaddr(s_axil_awaddr),
    .s_axil_awvalid(s_axil_awvalid),
    .s_axil_awready(s_axil_awready),
    .s_axil_wdata(s_axil_wdata),
    .s_axil_wstrb(s_axil_wstrb),
    .s_axil_wvalid(s_axil_wvalid),
    .s_axil_wready(s_axil_wready),
    .s_axil_bresp(s_axil_bresp),
    .s_axil_bvalid(s_axil_bvalid),
    .s_axil_bready(s_axil_bready),
    .s_axil_araddr(s_axil_araddr),
    .s_axil_arvalid(s_axil_arvalid),
    .s_axil_arready(s_axil_arready),
    .s_axil_rdata(s_axil_rdata),
    .s_axil_rresp(s_axil_rresp),
    .s_axil_rvalid(s_axil_rvalid),
    .s_axil_rready(s_axil_rready),
    .tctl_en(tctl_en),
    .tctl_psp(tctl_psp),
    .tdba(tdba),
    .ndesc(ndesc),
    .tdh(tdh),
    .tdt(tdt),
    .itr(itr),
    .tidv(tidv),
    .tadv(tadv),
    .wthresh(wthresh),
    .hwb_en(hwb_en),
    .hwb_addr(hwb_addr),
    .icr(icr),
    .ims(ims),
    .drain(drain),
    .halt(halt),
    .dp_rst(dp_rst),
    .full_rst(full_rst),
    .dp_idle(dp_idle),
    .ev_tdh_inc(ev_tdh_inc),
    .ev_txdw(ev_txdw),
    .ev_rd_err(ev_rd_err),
    .ev_rd_err_addr(ev_rd_err_addr),
    .ev_wr_err(ev_wr_err),
    .ev_wr_err_addr(ev_wr_err_addr),
    .ev_too_long(ev_too_long),
    .ev_dext(ev_dext),
    .ev_dext_addr(ev_dext_addr),
    .ev_zero(ev_zero),
    .stat_gptc(stat_gptc),
    .stat_gotc(stat_gotc),
    .stat_gotch_latch(stat_gotch_latch),
    .stat_tpt(stat_tpt),
    .stat_clr_gptc(stat_clr_gptc),
    .stat_clr_gotcl(stat_clr_gotcl),
    .stat_clr_gotch(stat_clr_gotch),
    .stat_clr_tpt(stat_clr_tpt),
    .active(csr_active)
);

// ---------------- descriptor fetch ----------------
wire                      dreq_valid, dreq_ready;
wire [DMA_ADDR_WIDTH-1:0] dreq_addr;
wire [8:0]                dreq_beats, dreq_count;
wire [127:0]              desc_in;
wire                      desc_in_valid;
wire [127:0]              desc_data;
wire                      desc_valid, desc_ready;

nic_desc_fetch #(
    .DMA_ADDR_WIDTH(DMA_ADDR_WIDTH),
    .DMA_DATA_WIDTH(DMA_DATA_WIDTH),
    .DESC_PREFETCH(DESC_PREFETCH),
    .FIFO_LOG2(DESC_FIFO_LOG2)
)
nic_desc_fetch_inst (
    .clk(clk),
    .rst(core_rst),
    .enable(tctl_en && !halt),
    .tdba(tdba),
    .ndesc(ndesc),
    .tdh(tdh),
    .tdt(tdt),
    .desc_pop(desc_valid && desc_ready),
    .req_valid(dreq_valid),
    .req_ready(dreq_ready),
    .req_addr(dreq_addr),
    .req_beats(dreq_beats),
    .req_count(dreq_count),
    .active(fetch_active)
);

nic_fifo #(
    .WIDTH(128),
    .DEPTH_LOG2(DESC_FIFO_LOG2)
)
desc_fifo_inst (
    .clk(clk),
    .rst(core_rst),
    .in_data(desc_in),
    .in_valid(desc_in_valid),
    /* verilator lint_off PINCONNECTEMPTY */ // the fetcher's credits guarantee space; the count is not needed
    .in_ready(),
    .out_data(desc_data),
    .out_valid(desc_valid),
    .out_ready(desc_ready),
    .count(),
    /* verilator lint_on PINCONNECTEMPTY */
    .active(desc_fifo_active)
);

// ---------------- frame assembly ----------------
wire                      treq_valid, treq_ready, treq_marker;
wire [1:0]                treq_tso;
wire [63:0]               treq_addr;
wire [8:0]                treq_beats;
wire [7:0]                treq_lo, treq_hi;
wire                      treq_rs, treq_ide, treq_eop, treq_ifcs, treq_ic;
wire [1:0]                treq_drop;
wire [15:0]               treq_len;
wire [7:0]                treq_css, treq_cso;
wire                      fb_free;
wire [FB_ADDR_WIDTH:0]    fb_free_words;
wire                      tctx_valid, tctx_ready, tctx_ixsm, tctx_txsm;
wire [7:0]                tctx_ipcss, tctx_ipcse, tctx_tucss, tctx_hdrlen;
wire [15:0]               tctx_mss;
wire [19:0]               tctx_paylen;

nic_tx_frame #(
    .DMA_ADDR_WIDTH(DMA_ADDR_WIDTH),
    .DMA_DATA_WIDTH(DMA_DATA_WIDTH),
    .MAX_FRAME_BYTES(MAX_FRAME_BYTES),
    .FB_ADDR_WIDTH(FB_ADDR_WIDTH)
)
nic_tx_frame_inst (
    .clk(clk),
    .rst(core_rst),
    .enable(!halt),
    .tdba(tdba),
    .ndesc(ndesc),
    .tdh(tdh),
    .desc_data(desc_data),
    .desc_valid(desc_valid),
    .desc_ready(desc_ready),
    .req_valid(treq_valid),
    .req_ready(treq_ready),
    .req_marker(treq_marker),
    .req_tso(treq_tso),
    .req_addr(treq_addr),
    .req_beats(treq_beats),
    .req_lo(treq_lo),
    .req_hi(treq_hi),
    .req_rs(treq_rs),
    .req_ide(treq_ide),
    .req_eop(treq_eop),
    .req_drop(treq_drop),
    .req_len(treq_len),
    .req_ifcs(treq_ifcs),
    .req_ic(treq_ic),
    .req_css(treq_css),
    .req_cso(treq_cso),
    .tctx_valid(tctx_valid),
    .tctx_ready(tctx_ready),
    .tctx_ipcss(tctx_ipcss),
    .tctx_ipcse(tctx_ipcse),
    .tctx_tucss(tctx_tucss),
    .tctx_hdrlen(tctx_hdrlen),
    .tctx_mss(tctx_mss),
    .tctx_paylen(tctx_paylen),
    .tctx_ixsm(tctx_ixsm),
    .tctx_txsm(tctx_txsm),
    .fb_free(fb_free),
    .fb_free_words(fb_free_words),
    .active(frame_active)
);

// ---------------- read engine ----------------
wire                      fb_we;
wire [FB_ADDR_WIDTH-1:0]  fb_waddr;
wire [DMA_DATA_WIDTH-1:0] fb_wdata;
wire [1:0]                fb_wmode;
wire [FB_ADDR_WIDTH-1:0]  fb_wfs;
wire                      tso_hold;
wire [FR_W-1:0]           frame_done;
wire                      frame_done_valid, frame_done_ready;
wire                      ev_wb_push, ev_wb_rs, ev_wb_ide, ev_wb_commit;
wire                      rd_idle;
wire                      wb_full;

nic_dma_rd #(
    .DMA_ADDR_WIDTH(DMA_ADDR_WIDTH),
    .DMA_DATA_WIDTH(DMA_DATA_WIDTH),
    .DMA_ID_WIDTH(DMA_ID_WIDTH),
    .FB_ADDR_WIDTH(FB_ADDR_WIDTH),
    .TAG_LOG2(6)
)
nic_dma_rd_inst (
    .clk(clk),
    .rst(core_rst),
    .stop(halt),
    .discard(drain),
    .wb_full(wb_full),
    .dreq_valid(dreq_valid),
    .dreq_ready(dreq_ready),
    .dreq_addr(dreq_addr),
    .dreq_beats(dreq_beats),
    .dreq_count(dreq_count),
    .treq_valid(treq_valid),
    .treq_ready(treq_ready),
    .treq_marker(treq_marker),
    .treq_tso(treq_tso),
    .treq_addr(treq_addr),
    .treq_beats(treq_beats),
    .treq_lo(treq_lo),
    .treq_hi(treq_hi),
    .treq_rs(treq_rs),
    .treq_ide(treq_ide),
    .treq_eop(treq_eop),
    .treq_drop(treq_drop),
    .treq_len(treq_len),
    .treq_ifcs(treq_ifcs),
    .treq_ic(treq_ic),
    .treq_css(treq_css),
    .treq_cso(treq_cso),
    .m_axi_arid(m_axi_arid),
    .m_axi_araddr(m_axi_araddr),
    .m_axi_arlen(m_axi_arlen),
    .m_axi_arsize(m_axi_arsize),
    .m_axi_arburst(m_axi_arburst),
    .m_axi_arlock(m_axi_arlock),
    .m_axi_arcache(m_axi_arcache),
    .m_axi_arprot(m_axi_arprot),
    .m_axi_arvalid(m_axi_arvalid),
    .m_axi_arready(m_axi_arready),
    .m_axi_rid(m_axi_rid),
    .m_axi_rdata(m_axi_rdata),
    .m_axi_rresp(m_axi_rresp),
    .m_axi_rlast(m_axi_rlast),
    .m_axi_rvalid(m_axi_rvalid),
    .m_axi_rready(m_axi_rready),
    .desc_out(desc_in),
    .desc_out_valid(desc_in_valid),
    .fb_we(fb_we),
    .fb_waddr(fb_waddr),
    .fb_wdata(fb_wdata),
    .fb_wmode(fb_wmode),
    .fb_wfs(fb_wfs),
    .tso_hold(tso_hold),
    .frame_out(frame_done),
    .frame_out_valid(frame_done_valid),
    .frame_out_ready(frame_done_ready),
    .ev_tdh_inc(ev_tdh_inc),
    .ev_wb_push(ev_wb_push),
    .ev_wb_rs(ev_wb_rs),
    .ev_wb_ide(ev_wb_ide),
    .ev_wb_commit(ev_wb_commit),
    .ev_rd_err(ev_rd_err),
    .ev_rd_err_addr(ev_rd_err_addr),
    .ev_too_long(ev_too_long),
    .ev_dext(ev_dext),
    .ev_dext_addr(ev_dext_addr),
    .ev_zero(ev_zero),
    .idle(rd_idle),
    .active(rd_active)
);

// ---------------- TSO: segment headers ----------------
wire [DMA_DATA_WIDTH-1:0] fb_wdata_hdr;
wire                      tso_active;

nic_tso_hdr #(
    .DMA_DATA_WIDTH(DMA_DATA_WIDTH),
    .FB_ADDR_WIDTH(FB_ADDR_WIDTH)
)
nic_tso_hdr_inst (
    .clk(clk),
    .rst(core_rst),
    .tctx_valid(tctx_valid),
    .tctx_ready(tctx_ready),
    .tctx_ipcss(tctx_ipcss),
    .tctx_ipcse(tctx_ipcse),
    .tctx_tucss(tctx_tucss),
    .tctx_hdrlen(tctx_hdrlen),
    .tctx_mss(tctx_mss),
    .tctx_paylen(tctx_paylen),
    .tctx_ixsm(tctx_ixsm),
    .tctx_txsm(tctx_txsm),
    .we(fb_we),
    .waddr(fb_waddr),
    .wdata(fb_wdata),
    .wmode(fb_wmode),
    .wfs(fb_wfs),
    .wdata_out(fb_wdata_hdr),
    .hold(tso_hold),
    .active(tso_active)
);

// ---------------- frame buffer ----------------
wire                      fb_ren_a, fb_ren_b, fb_gnt_a;
wire [FB_ADDR_WIDTH-1:0]  fb_raddr_a, fb_raddr_b;
wire [DMA_DATA_WIDTH-1:0] fb_rdata_a, fb_rdata_b;

nic_fbuf #(
    .WIDTH(DMA_DATA_WIDTH),
    .ADDR_WIDTH(FB_ADDR_WIDTH)
)
nic_fbuf_inst (
    .clk(clk),
    .we(fb_we),
    .waddr(fb_waddr),
    .wdata(fb_wdata_hdr),
    .ren_a(fb_ren_a),
    .raddr_a(fb_raddr_a),
    .gnt_a(fb_gnt_a),
    .rdata_a(fb_rdata_a),
    .ren_b(fb_ren_b),
    .raddr_b(fb_raddr_b),
    .rdata_b(fb_rdata_b)
);

// ---------------- checksum ----------------
wire [FT_W-1:0]           frame_tx;
wire                      frame_tx_valid, frame_tx_ready;

nic_csum #(
    .DMA_DATA_WIDTH(DMA_DATA_WIDTH),
    .FB_ADDR_WIDTH(FB_ADDR_WIDTH)
)
nic_csum_inst (
    .clk(clk),
    .rst(core_rst),
    .in_data(frame_done),
    .in_valid(frame_done_valid),
    .in_ready(frame_done_ready),
    .fb_ren(fb_ren_a),
    .fb_raddr(fb_raddr_a),
    .fb_gnt(fb_gnt_a),
    .fb_rdata(fb_rdata_a),
    .out_data(frame_tx),
    .out_valid(frame_tx_valid),
    .out_ready(frame_tx_ready),
    .active(csum_active)
);

// ---------------- MAC ----------------
wire        frame_sent;
wire [15:0] frame_bytes;
wire        tx_busy;

nic_xgmii_tx #(
    .DMA_DATA_WIDTH(DMA_DATA_WIDTH),
    .FB_ADDR_WIDTH(FB_ADDR_WIDTH)
)
nic_xgmii_tx_inst (
    .clk(clk),
    .rst(core_rst),
    .hold(drain),
    .psp(tctl_psp),
    .in_data(frame_tx),
    .in_valid(frame_tx_valid),
    .in_ready(frame_tx_ready),
    .fb_ren(fb_ren_b),
    .fb_raddr(fb_raddr_b),
    .fb_rdata(fb_rdata_b),
    .fb_free(fb_free),
    .fb_free_words(fb_free_words),
    .frame_sent(frame_sent),
    .frame_bytes(frame_bytes),
    .busy(tx_busy),
    .xgmii_txd(xgmii_txd),
    .xgmii_txc(xgmii_txc),
    .active(mac_active)
);

// ---------------- write-back ----------------
wire wb_done, wb_done_ide, wb_idle;

nic_wb #(
    .DMA_ADDR_WIDTH(DMA_ADDR_WIDTH),
    .DMA_DATA_WIDTH(DMA_DATA_WIDTH),
    .DMA_ID_WIDTH(DMA_ID_WIDTH),
    .Q_LOG2(6)
)
nic_wb_inst (
    .clk(clk),
    .rst(core_rst),
    .stop(drain),
    .tdba(tdba),
    .ndesc(ndesc),
    .tdh(tdh),
    .wthresh(wthresh),
    .hwb_en(hwb_en),
    .hwb_addr(hwb_addr),
    .ring_idle(tdh == tdt),
    .push(ev_wb_push),
    .push_rs(ev_wb_rs),
    .push_ide(ev_wb_ide),
    .push_commit(ev_wb_commit),
    .m_axi_awid(m_axi_awid),
    .m_axi_awaddr(m_axi_awaddr),
    .m_axi_awlen(m_axi_awlen),
    .m_axi_awsize(m_axi_awsize),
    .m_axi_awburst(m_axi_awburst),
    .m_axi_awlock(m_axi_awlock),
    .m_axi_awcache(m_axi_awcache),
    .m_axi_awprot(m_axi_awprot),
    .m_axi_awvalid(m_axi_awvalid),
    .m_axi_awready(m_axi_awready),
    .m_axi_wdata(m_axi_wdata),
    .m_axi_wstrb(m_axi_wstrb),
    .m_axi_wlast(m_axi_wlast),
    .m_axi_wvalid(m_axi_wvalid),
    .m_axi_wready(m_axi_wready),
    .m_axi_bid(m_axi_bid),
    .m_axi_bresp(m_axi_bresp),
    .m_axi_bvalid(m_axi_bvalid),
    .m_axi_bready(m_axi_bready),
    .done(wb_done),
    .done_ide(wb_done_ide),
    .err(ev_wr_err),
    .err_addr(ev_wr_err_addr),
    .idle(wb_idle),
    .full(wb_full),
    .active(wb_active)
);

assign dp_idle = rd_idle && wb_idle && !tx_busy;

// ---------------- interrupts ----------------
// the edges a clock edge stands for (tied off, the constant 1)
wire [23:0] irq_step = skip_valid ? skip_cycles + 24'd1 : 24'd1;

nic_irq #(
    .ITR_UNIT(40),
    .TDV_UNIT(160)
)
nic_irq_inst (
    .clk(clk),
    .rst(all_rst),
    .wb_done(wb_done),
    .wb_ide(wb_done_ide),
    .tidv(tidv),
    .tadv(tadv),
    .itr(itr),
    .txdw_set(ev_txdw),
    .icr(icr),
    .ims(ims),
    .irq(irq),
    .quiet(irq_quiet),
    .tidv_armed(irq_tidv_armed),
    .tidv_count(irq_tidv_count),
    .tadv_armed(irq_tadv_armed),
    .tadv_count(irq_tadv_count),
    .itr_count(irq_itr_count),
    .step(irq_step)
);

// ---------------- statistics ----------------
nic_stats
nic_stats_inst (
    .clk(clk),
    .rst(all_rst),
    .frame_sent(frame_sent),
    .frame_bytes(frame_bytes),
    .clr_gptc(stat_clr_gptc),
    .clr_gotcl(stat_clr_gotcl),
    .clr_gotch(stat_clr_gotch),
    .clr_tpt(stat_clr_tpt),
    .gptc(stat_gptc),
    .gotc(stat_gotc),
    .gotch_latch(stat_gotch_latch),
    .tpt(stat_tpt),
    .active(stats_active)
);

// ---------------- clock gate ----------------
// A block's `active` is its activity gate: while it is low the block's clocked process does
// nothing. The frame buffer RAM changes only on its enables; a block waiting for a DMA
// answer may be idle, so nothing may be outstanding on either AXI channel either.
assign quiet = !(csr_active || fetch_active || desc_fifo_active || frame_active || rd_active || csum_active
                 || mac_active || wb_active || stats_active || tso_active || fb_we || fb_ren_a || fb_ren_b)
               && rd_idle && wb_idle && irq_quiet;

endmodule

`resetall
