/*
 * hilnic -- descriptor write-back. Keeps the RS descriptors of finished descriptors
 * in ring order, releases them when their frame is complete (all buffers read),
 * batches them by WTHRESH, and writes either DD (byte 12, one strobe) per descriptor
 * or, with head write-back enabled, TDH (32-bit) to TDWBA. Reports each completed
 * batch (for TXDW) and BRESP errors.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_wb #
(
    // DMA address width
    parameter DMA_ADDR_WIDTH = 64,
    // DMA data width
    parameter DMA_DATA_WIDTH = 128,
    // AXI ID width
    parameter DMA_ID_WIDTH = 4,
    // log2 of the pending write-back queue depth
    parameter Q_LOG2 = 6
)
(
    input  wire                          clk,
    input  wire                          rst,

    input  wire                          stop,       // start no new write

    input  wire [63:0]                   tdba,
    input  wire [16:0]                   ndesc,
    input  wire [15:0]                   tdh,        // index of the descriptor being pushed
    input  wire [5:0]                    wthresh,
    input  wire                          hwb_en,
    input  wire [63:0]                   hwb_addr,
    input  wire                          ring_idle,

    input  wire                          push,
    input  wire                          push_rs,
    input  wire                          push_ide,
    input  wire                          push_commit,

    /*
     * AXI4 write master
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
    /* verilator lint_off UNUSEDSIGNAL */ // one AWID (0), responses in order
    input  wire [DMA_ID_WIDTH-1:0]       m_axi_bid,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [1:0]                    m_axi_bresp,
    input  wire                          m_axi_bvalid,
    output wire                          m_axi_bready,

    output wire                          done,       // a batch finished
    output wire                          done_ide,
    output wire                          err,
    output wire [63:0]                   err_addr,
    output wire                          idle,
    output wire                          full,       // hold new pushes (entries will drain)

    // the activity gate: the next clock edge may change this block's state (nic_top's `quiet`)
    output wire                          active
);

localparam BYTES = DMA_DATA_WIDTH/8;
localparam integer SIZE = $clog2(BYTES);
localparam [2:0] AWSIZE = SIZE[2:0];
localparam Q_DEPTH = 1 << Q_LOG2;
localparam OUT_LOG2 = 5;
localparam integer OMAX_I = (1 << OUT_LOG2) - 1;   // writes outstanding at most
localparam [OUT_LOG2:0] OMAX = OMAX_I[OUT_LOG2:0];

`include "nic_txd.vh"
// DD write-back: the descriptor's status byte, DD set (the other bits of the byte written 0)
localparam integer STA_BYTE_I = TXD_STA_LSB / 8;
localparam [3:0] STA_BYTE = STA_BYTE_I[3:0];
localparam [7:0] STA_DONE = 8'd1 << TXD_STA_DD;

reg [15:0] q_idx [0:Q_DEPTH-1];
reg        q_ide [0:Q_DEPTH-1];
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [Q_LOG2:0] wr_ptr_reg = 0;
reg [Q_LOG2:0] cm_ptr_reg = 0;
reg [Q_LOG2:0] rd_ptr_reg = 0;
reg [Q_LOG2:0] batch_end_reg = 0;
reg [Q_LOG2-1:0] batch_last_reg = 0; // batch_end_reg - 1 (queue index): the head write-back's entry
reg            batch_reg = 1'b0;
// `full` to nic_dma_rd as a flip-flop: from the next write and commit pointers and this cycle's
// read pointer (a read this cycle frees its slots a cycle later), off the issue decision's path
reg            full_reg = 1'b0;
// head write-back: the batch's last index + 1, read from the queue when the batch starts (the
// issue then does not wait for a LUT RAM read and an add)
reg [16:0]     hv_reg = 0;

reg                       aw_valid_reg = 1'b0;
reg                       w_valid_reg = 1'b0;
reg [DMA_ADDR_WIDTH-1:0]  awaddr_reg = 0;
reg [DMA_DATA_WIDTH-1:0]  wdata_reg = 0;
reg [BYTES-1:0]           wstrb_reg = 0;
reg [OUT_LOG2:0]          outst_reg = 0;
reg                       ide_all_reg = 1'b1;

reg [63:0]                a_fifo [0:(1<<OUT_LOG2)-1];
reg [OUT_LOG2-1:0]        a_wr_reg = 0;
reg [OUT_LOG2-1:0]        a_rd_reg = 0;

reg                       done_reg = 1'b0;
reg                       done_ide_reg = 1'b0;
reg                       err_reg = 1'b0;
reg [63:0]                err_addr_reg = 0;
/* verilator lint_on PROCASSINIT */

assign m_axi_awid = {DMA_ID_WIDTH{1'b0}};
assign m_axi_awaddr = awaddr_reg;
assign m_axi_awlen = 8'd0;
assign m_axi_awsize = AWSIZE;
assign m_axi_awburst = 2'b01;
assign m_axi_awlock = 1'b0;
assign m_axi_awcache = 4'b0011;
assign m_axi_awprot = 3'b010;
assign m_axi_awvalid = aw_valid_reg;
assign m_axi_wdata = wdata_reg;
assign m_axi_wstrb = wstrb_reg;
assign m_axi_wlast = 1'b1;
assign m_axi_wvalid = w_valid_reg;
assign m_axi_bready = 1'b1;

assign done = done_reg;
assign done_ide = done_ide_reg;
assign err = err_reg;
assign err_addr = err_addr_reg;
assign idle = !aw_valid_reg && !w_valid_reg && outst_reg == 0;
assign full = full_reg;
// the same test on this cycle's pointers, for the batching decision
wire [Q_LOG2:0] q_used = wr_ptr_reg - rd_ptr_reg;
wire full_now = q_used >= Q_DEPTH - 2 && cm_ptr_reg != rd_ptr_reg;

reg [Q_LOG2:0]   pend;
reg [Q_LOG2:0]   rp1;
reg [Q_LOG2:0]   qcnt;
reg [Q_LOG2:0]   wr_n, cm_n, rd_n;   // the next pointers
reg              wi;                 // wr_n is wr_ptr_reg + 1
reg [1:0]        cw;                 // cm_n is cm_ptr_reg (0), wr_ptr_reg + 1 (1) or wr_ptr_reg (2)
reg [63:0]       a;
reg [16:0]       v;
reg [OUT_LOG2:0] outst;
reg              aw_v, w_v;
reg [15:0]       li;
reg [7:0]        lane;
reg [20:0]       a_lo;
wire [43:0]      tdba_hi1 = tdba[63:20] + 44'd1;

// room for another write: fewer than OMAX outstanding after this cycle's AW and B handshakes,
// from compares of outst_reg against constants (no add in front of a compare)
wire aw_hs = aw_valid_reg && m_axi_awready;
wire out_room = (aw_hs && !m_axi_bvalid) ? outst_reg < OMAX - 1
              : (m_axi_bvalid && !aw_hs) ? outst_reg < OMAX + 1 : outst_reg < OMAX;

// activity gate: an idle block costs one test per cycle in an event-driven simulator.
// The reset is applied after the gated code, not through the gate (for the clock: the datapath
// reset would reach every register's enable through it).
wire act = push || aw_valid_reg || w_valid_reg || m_axi_bvalid || batch_reg || cm_ptr_reg != rd_ptr_reg || done_reg || err_reg || outst_reg != 0;
assign active = act || rst;

/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) begin
    if (act) begin
    done_reg <= 1'b0;
    err_reg <= 1'b0;
    outst = outst_reg;
    wr_n = wr_ptr_reg;
    cm_n = cm_ptr_reg;
    rd_n = rd_ptr_reg;
    wi = 1'b0;
    cw = 2'd0;
    aw_v = aw_valid_reg;
    w_v = w_valid_reg;

    // ---- queue intake ----
    if (push) begin
        qcnt = wr_ptr_reg - rd_ptr_reg;
        if (push_rs && qcnt != Q_DEPTH) begin
            q_idx[wr_ptr_reg[Q_LOG2-1:0]] <= tdh;
            q_ide[wr_ptr_reg[Q_LOG2-1:0]] <= push_ide;
            wr_n = wr_ptr_reg + 1;
            wi = 1'b1;
            if (push_commit) begin
                cm_n = wr_ptr_reg + 1;
                cw = 2'd1;
            end
        end else if (push_commit) begin
            cm_n = wr_ptr_reg;
            cw = 2'd2;
        end
    end

    // ---- AW / W handshakes ----
    if (aw_v && m_axi_awready) begin
        aw_v = 1'b0;
        outst = outst + 1;
    end
    if (w_v && m_axi_wready) begin
        w_v = 1'b0;
    end

    // ---- B ----
    if (m_axi_bvalid) begin
        outst = outst - 1;
        a_rd_reg <= a_rd_reg + 1;
        if (m_axi_bresp != 2'b00) begin
            err_reg <= 1'b1;
            err_addr_reg <= a_fifo[a_rd_reg];
        end
        if (outst == 0 && !batch_reg && !aw_v) begin
            done_reg <= 1'b1;
            done_ide_reg <= ide_all_reg;
            ide_all_reg <= 1'b1;
        end
    end

    // ---- batching and issue ----
    pend = cm_ptr_reg - rd_ptr_reg;
    if (!batch_reg) begin
        if (pend != 0 && !stop && ({1'b0, pend} >= {2'b00, wthresh} || ring_idle || full_now)) begin
            batch_reg <= 1'b1;
            batch_end_reg <= cm_ptr_reg;
            batch_last_reg <= cm_ptr_reg[Q_LOG2-1:0] - 1;
            li = q_idx[cm_ptr_reg[Q_LOG2-1:0] - 1];
            hv_reg <= {1'b0, li} + 17'd1;
        end
    end else if (!aw_v && !w_v && out_room && !stop) begin
        if (hwb_en) begin
            v = hv_reg;
            if (v >= ndesc) begin
                v = 0;
            end
            a = hwb_addr;
            /* verilator lint_off WIDTHEXPAND */ // byte lane of a 64-bit address: integer BYTES in 64-bit arithmetic
            wdata_reg <= {{(DMA_DATA_WIDTH-32){1'b0}}, 15'd0, v} << (8*(a % BYTES));
            wstrb_reg <= {{(BYTES-4){1'b0}}, 4'hf} << (a % BYTES);
            /* verilator lint_on WIDTHEXPAND */
            ide_all_reg <= ide_all_reg & q_ide[batch_last_reg];
            rd_n = batch_end_reg;
            batch_reg <= 1'b0;
        end else begin
            // the descriptor's status byte: a 20-bit add, its carry selecting TDBA's upper bits
            // or those + 1 (both from registers): no 64-bit carry chain after the queue read
            li = q_idx[rd_ptr_reg[Q_LOG2-1:0]];
            a_lo = {1'b0, tdba[19:0]} + {1'b0, li, STA_BYTE};
            a = {a_lo[20] ? tdba_hi1 : tdba[63:20], a_lo[19:0]};
            // the byte lane: the descriptor index matters only to a 32-byte bus (its bit 0)
            lane = {3'd0, tdba[4:0] + {li[0], STA_BYTE}};
            /* verilator lint_off WIDTHEXPAND */ // byte lane < BYTES <= 32: integer arithmetic
            wdata_reg <= {{(DMA_DATA_WIDTH-8){1'b0}}, STA_DONE} << (8*(lane % BYTES));
            wstrb_reg <= {{(BYTES-1){1'b0}}, 1'b1} << (lane % BYTES);
            /* verilator lint_on WIDTHEXPAND */
            ide_all_reg <= ide_all_reg & q_ide[rd_ptr_reg[Q_LOG2-1:0]];
            rp1 = rd_ptr_reg + 1;
            rd_n = rp1;
            if (rp1 == batch_end_reg) begin
                batch_reg <= 1'b0;
            end
        end
        awaddr_reg <= {a[DMA_ADDR_WIDTH-1:SIZE], {SIZE{1'b0}}};
        a_fifo[a_wr_reg] <= a;
        a_wr_reg <= a_wr_reg + 1;
        aw_v = 1'b1;
        w_v = 1'b1;
    end

    aw_valid_reg <= aw_v;
    w_valid_reg <= w_v;
    outst_reg <= outst;
    wr_ptr_reg <= wr_n;
    cm_ptr_reg <= cm_n;
    rd_ptr_reg <= rd_n;
    // two slots of slack for a push in flight; only when committed entries can drain (a
    // frame with more uncommitted RS descriptors than the queue holds loses the excess).
    // wr_n - rd_ptr_reg >= Q_DEPTH - 2 and cm_n != rd_ptr_reg, from compares of this cycle's
    // count (q_used) picked by the push (for the clock: no subtraction after the push
    // decision); wr_ptr_reg + 1 != rd_ptr_reg always holds (q_used <= Q_DEPTH)
    full_reg <= (wi ? q_used >= Q_DEPTH - 3 : q_used >= Q_DEPTH - 2)
                && (cw == 2'd1 || (cw == 2'd2 ? q_used != 0 : cm_ptr_reg != rd_ptr_reg));
    end

    if (rst) begin
        wr_ptr_reg <= 0;
        cm_ptr_reg <= 0;
        rd_ptr_reg <= 0;
        full_reg <= 1'b0;
        batch_reg <= 1'b0;
        aw_valid_reg <= 1'b0;
        w_valid_reg <= 1'b0;
        outst_reg <= 0;
        ide_all_reg <= 1'b1;
        a_wr_reg <= 0;
        a_rd_reg <= 0;
        done_reg <= 1'b0;
        err_reg <= 1'b0;
    end
end
/* verilator lint_on BLKSEQ */

endmodule

`resetall
