/*
 * hilnic -- frame assembly from descriptors: walks the fetched descriptors in ring
 * order, splits each buffer into AXI read bursts (no 4 KiB crossing), and after each
 * descriptor queues an in-order marker (TDH advance, write-back, frame end with the
 * EOP descriptor's IC/CSS/CSO/IFCS and the drop reason). Reserves frame buffer space:
 * a frame is started only when a maximum-size frame fits.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_tx_frame #
(
    // DMA address width
    /* verilator lint_off UNUSEDPARAM */ // same parameter list as the other DMA blocks; addresses are 64-bit here
    parameter DMA_ADDR_WIDTH = 64,
    /* verilator lint_on UNUSEDPARAM */
    // DMA data width
    parameter DMA_DATA_WIDTH = 128,
    // largest frame in bytes without FCS
    parameter MAX_FRAME_BYTES = 9216,
    // log2 of the frame buffer size in words
    parameter FB_ADDR_WIDTH = 11
)
(
    input  wire                       clk,
    input  wire                       rst,

    input  wire                       enable,     // not halted / draining
    input  wire [63:0]                tdba,
    input  wire [16:0]                ndesc,
    input  wire [15:0]                tdh,

    /*
     * Descriptors (show-ahead FIFO)
     */
    /* verilator lint_off UNUSEDSIGNAL */ // legacy descriptor: STA and special bytes are not used
    input  wire [127:0]               desc_data,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                       desc_valid,
    output wire                       desc_ready,

    /*
     * Request to the read engine: burst or marker
     */
    output wire                       req_valid,
    input  wire                       req_ready,
    output wire                       req_marker,
    output wire [63:0]                req_addr,
    output wire [8:0]                 req_beats,
    output wire [7:0]                 req_lo,
    output wire [7:0]                 req_hi,
    output wire                       req_rs,
    output wire                       req_ide,
    output wire                       req_eop,
    output wire [1:0]                 req_drop,
    output wire [15:0]                req_len,
    output wire                       req_ifcs,
    output wire                       req_ic,
    output wire [7:0]                 req_css,
    output wire [7:0]                 req_cso,

    /*
     * Frame buffer space returned by the MAC
     */
    input  wire                       fb_free,
    input  wire [FB_ADDR_WIDTH:0]     fb_free_words
);

localparam BYTES = DMA_DATA_WIDTH/8;
localparam MAX_BURST = (256*BYTES < 4096) ? 256*BYTES : 4096;
localparam LIMIT = MAX_FRAME_BYTES + 4;   // frame data with a software FCS
localparam FB_WORDS = 1 << FB_ADDR_WIDTH;
localparam MAX_WORDS = (LIMIT + BYTES - 1) / BYTES + 1;

localparam [1:0] DROP_NONE = 2'd0, DROP_LONG = 2'd1, DROP_DEXT = 2'd2, DROP_ZERO = 2'd3;
localparam [1:0] ST_IDLE = 2'd0, ST_BURST = 2'd1, ST_MARK = 2'd2;

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [1:0]                 state_reg = ST_IDLE;
reg                       init_reg = 1'b1;
reg [15:0]                idx_reg = 0;
reg                       in_frame_reg = 1'b0;
reg [16:0]                total_reg = 0;
reg                       long_reg = 1'b0;
reg [FB_ADDR_WIDTH:0]     used_reg = 0;

reg [63:0]                cur_addr_reg = 0;
reg [16:0]                rem_reg = 0;
reg                       desc_ready_reg = 1'b0;

reg                       req_valid_reg = 1'b0;
reg                       req_marker_reg = 1'b0;
reg [63:0]                req_addr_reg = 0;
reg [8:0]                 req_beats_reg = 0;
reg [7:0]                 req_lo_reg = 0;
reg [7:0]                 req_hi_reg = 0;
reg [12:0]                req_blen_reg = 0;
reg                       req_rs_reg = 1'b0;
reg                       req_ide_reg = 1'b0;
reg                       req_eop_reg = 1'b0;
reg [1:0]                 req_drop_reg = 0;
reg [15:0]                req_len_reg = 0;
reg                       req_ifcs_reg = 1'b0;
reg                       req_ic_reg = 1'b0;
reg [7:0]                 req_css_reg = 0;
reg [7:0]                 req_cso_reg = 0;
/* verilator lint_on PROCASSINIT */

assign desc_ready = desc_ready_reg;
assign req_valid = req_valid_reg;
assign req_marker = req_marker_reg;
assign req_addr = req_addr_reg;
assign req_beats = req_beats_reg;
assign req_lo = req_lo_reg;
assign req_hi = req_hi_reg;
assign req_rs = req_rs_reg;
assign req_ide = req_ide_reg;
assign req_eop = req_eop_reg;
assign req_drop = req_drop_reg;
assign req_len = req_len_reg;
assign req_ifcs = req_ifcs_reg;
assign req_ic = req_ic_reg;
assign req_css = req_css_reg;
assign req_cso = req_cso_reg;

// descriptor fields
wire [63:0] d_addr = desc_data[63:0];
wire [15:0] d_len  = desc_data[79:64];
wire [7:0]  d_cso  = desc_data[87:80];
/* verilator lint_off UNUSEDSIGNAL */ // CMD.VLE (bit 6) is not implemented (hdl/nic/README.md)
wire [7:0]  d_cmd  = desc_data[95:88];
/* verilator lint_on UNUSEDSIGNAL */
wire [7:0]  d_css  = desc_data[111:104];

reg [16:0]             new_total;
reg [12:0]             blen;
reg [12:0]             room;
reg [FB_ADDR_WIDTH:0]  used;
reg [16:0]             idx_next;
reg                    too_long;

// compute the next burst of [a, a+rem)
task set_burst;
    input [63:0] a;
    input [16:0] rem;
    begin
        room = 13'd4096 - a[11:0];
        blen = room;
        /* verilator lint_off WIDTHEXPAND */ /* verilator lint_off WIDTHTRUNC */ // MAX_BURST <= 4096 fits blen
        if (blen > MAX_BURST) begin
            blen = MAX_BURST;
        end
        /* verilator lint_on WIDTHEXPAND */ /* verilator lint_on WIDTHTRUNC */
        if ({4'd0, blen} > rem) begin
            blen = rem[12:0];
        end
        req_addr_reg <= a;
        req_blen_reg <= blen;
        /* verilator lint_off WIDTHEXPAND */ /* verilator lint_off WIDTHTRUNC */ // 64-bit address arithmetic: offsets < BYTES, beats <= 257 fit their registers
        req_lo_reg <= a % BYTES;
        req_hi_reg <= (a + blen) % BYTES;
        req_beats_reg <= ((a % BYTES) + blen + BYTES - 1) / BYTES;
        /* verilator lint_on WIDTHEXPAND */ /* verilator lint_on WIDTHTRUNC */
    end
endtask

// activity gate: an idle block costs one test per cycle in an event-driven simulator
/* verilator lint_off WIDTHEXPAND */ // integer (32-bit) arithmetic on buffer words, used_reg <= FB_WORDS
wire space_ok = FB_WORDS - used_reg >= MAX_WORDS;
/* verilator lint_on WIDTHEXPAND */
wire act = rst || fb_free || desc_ready_reg || init_reg || state_reg != ST_IDLE || (desc_valid && enable && (in_frame_reg || space_ok));

/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) begin
    if (act) begin
    desc_ready_reg <= 1'b0;
    used = used_reg;
    if (fb_free) begin
        used = used - fb_free_words;
    end

    case (state_reg)
        ST_IDLE: begin
            if (init_reg) begin
                idx_reg <= tdh;
                init_reg <= 1'b0;
            /* verilator lint_off WIDTHEXPAND */ // integer (32-bit) arithmetic on buffer words, used <= FB_WORDS
            end else if (desc_valid && !desc_ready_reg && enable && (in_frame_reg || FB_WORDS - used >= MAX_WORDS)) begin
            /* verilator lint_on WIDTHEXPAND */
                in_frame_reg <= 1'b1;
                // marker fields (used when this descriptor is done)
                req_marker_reg <= 1'b0;
                req_rs_reg <= d_cmd[3] | d_cmd[4];
                req_ide_reg <= d_cmd[7];
                req_eop_reg <= d_cmd[0] | d_cmd[5];
                req_ifcs_reg <= d_cmd[1];
                req_ic_reg <= d_cmd[2];
                req_css_reg <= d_css;
                req_cso_reg <= d_cso;
                new_total = total_reg + d_len;
                if (d_cmd[5]) begin
                    // DEXT: bad descriptor ends the frame, no data read
                    req_addr_reg <= tdba + {44'd0, idx_reg, 4'b0000};
                    state_reg <= ST_MARK;
                end else if (long_reg || new_total > LIMIT) begin
                    long_reg <= 1'b1;
                    state_reg <= ST_MARK;
                end else if (d_len == 0) begin
                    state_reg <= ST_MARK;
                end else begin
                    total_reg <= new_total;
                    cur_addr_reg <= d_addr;
                    rem_reg <= {1'b0, d_len};
                    set_burst(d_addr, {1'b0, d_len});
                    req_valid_reg <= 1'b1;
                    state_reg <= ST_BURST;
                end
            end
        end
        ST_BURST: begin
            if (req_ready) begin
                if (rem_reg == {4'd0, req_blen_reg}) begin
                    req_valid_reg <= 1'b0;
                    state_reg <= ST_MARK;
                end else begin
                    cur_addr_reg <= cur_addr_reg + {51'd0, req_blen_reg};
                    rem_reg <= rem_reg - {4'd0, req_blen_reg};
                    set_burst(cur_addr_reg + {51'd0, req_blen_reg}, rem_reg - {4'd0, req_blen_reg});
                end
            end
        end
        ST_MARK: begin
            if (!req_valid_reg) begin
                // present the marker
                req_valid_reg <= 1'b1;
                req_marker_reg <= 1'b1;
                req_len_reg <= total_reg[15:0];
                if (req_eop_reg) begin
                    too_long = long_reg || (req_ifcs_reg && total_reg > MAX_FRAME_BYTES);
                    if (desc_data[93]) begin
                        req_drop_reg <= DROP_DEXT;
                    end else if (too_long) begin
                        req_drop_reg <= DROP_LONG;
                    end else if (total_reg == 0) begin
                        req_drop_reg <= DROP_ZERO;
                    end else begin
                        req_drop_reg <= DROP_NONE;
                    end
                end else begin
                    req_drop_reg <= DROP_NONE;
                end
            end else if (req_ready) begin
                req_valid_reg <= 1'b0;
                req_marker_reg <= 1'b0;
                desc_ready_reg <= 1'b1;
                idx_next = idx_reg + 1;
                if (idx_next >= ndesc) begin
                    idx_next = 0;
                end
                idx_reg <= idx_next[15:0];
                if (req_eop_reg) begin
                    if (req_drop_reg == DROP_NONE) begin
                        /* verilator lint_off WIDTHEXPAND */ /* verilator lint_off WIDTHTRUNC */ // a frame's words fit the buffer (space_ok): no truncation
                        used = used + ((total_reg + BYTES - 1) / BYTES);
                        /* verilator lint_on WIDTHEXPAND */ /* verilator lint_on WIDTHTRUNC */
                    end
                    in_frame_reg <= 1'b0;
                    total_reg <= 0;
                    long_reg <= 1'b0;
                end
                state_reg <= ST_IDLE;
            end
        end
        default: state_reg <= ST_IDLE;
    endcase
    used_reg <= used;

    if (rst) begin
        state_reg <= ST_IDLE;
        init_reg <= 1'b1;
        idx_reg <= 0;
        in_frame_reg <= 1'b0;
        total_reg <= 0;
        long_reg <= 1'b0;
        used_reg <= 0;
        desc_ready_reg <= 1'b0;
        req_valid_reg <= 1'b0;
        req_marker_reg <= 1'b0;
    end
end
end
/* verilator lint_on BLKSEQ */

endmodule

`resetall
