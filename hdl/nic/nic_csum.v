/*
 * hilnic -- checksum pass. For a completed frame with IC, reads the frame buffer from
 * CSS to the end of the frame (one word per cycle the MAC leaves the buffer's bank free) and computes the 16-bit ones'-
 * complement sum; the MAC inserts its complement big-endian at CSO on the fly.
 * Frames without IC pass straight through. One frame of output is held.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_csum #
(
    // frame buffer word width
    parameter DMA_DATA_WIDTH = 128,
    // log2 of the frame buffer size in words
    parameter FB_ADDR_WIDTH = 11
)
(
    input  wire                        clk,
    input  wire                        rst,

    // completed frames: the FR_* record of nic_records.vh
    input  wire [FB_ADDR_WIDTH+33:0]   in_data,
    input  wire                        in_valid,
    output wire                        in_ready,

    // frame buffer read port
    output wire                        fb_ren,
    output wire [FB_ADDR_WIDTH-1:0]    fb_raddr,
    input  wire                        fb_gnt,     // the read is done at this edge (the MAC goes first)
    input  wire [DMA_DATA_WIDTH-1:0]   fb_rdata,

    // to the MAC: the FT_* record of nic_records.vh
    output wire [FB_ADDR_WIDTH+41:0]   out_data,
    output wire                        out_valid,
    input  wire                        out_ready,

    // the activity gate: the next clock edge may change this block's state (nic_top's `quiet`)
    output wire                        active
);

localparam BYTES = DMA_DATA_WIDTH/8;
localparam WS = $clog2(BYTES);
// 64-bit lane offsets, kept in range for every width
localparam L1 = (BYTES >= 16) ? 64 : 0;
localparam L2 = (BYTES >= 32) ? 128 : 0;
localparam L3 = (BYTES >= 32) ? 192 : 0;

localparam [2:0] ST_IDLE = 3'd0, ST_RUN = 3'd1, ST_WAIT = 3'd2, ST_FIN = 3'd3, ST_SETUP = 3'd4, ST_FOLD = 3'd5;

`include "nic_records.vh"

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [2:0]                 state_reg = ST_IDLE;
reg                       in_ready_reg = 1'b0;
reg [FB_ADDR_WIDTH-1:0]   start_reg = 0;
reg [15:0]                len_reg = 0;
reg                       ifcs_reg = 1'b0;
reg                       ic_reg = 1'b0;
reg [18:0]                sum_reg = 0;      // ST_FIN's lane sum, folded in ST_FOLD
/* verilator lint_off UNUSEDSIGNAL */ // only the in-word byte offset of CSS/end (WS bits, width-dependent) is used after the start
reg [7:0]                 css_reg = 0;
reg [7:0]                 cso_reg = 0;
reg [15:0]                end_reg = 0;      // sum covers [css, end)
/* verilator lint_on UNUSEDSIGNAL */

reg [FB_ADDR_WIDTH-1:0]   raddr_reg = 0;
reg [15:0]                words_reg = 0;    // words left to issue
reg                       p_valid_reg = 1'b0;
reg                       p_first_reg = 1'b0;
reg                       p_last_reg = 1'b0;
reg                       first_reg = 1'b0;
reg [79:0]                acc_reg = 0;
// the read word, masked, registered before the 80-bit add: the block RAM's output and the
// masking stay out of the accumulator's carry chain (a cycle more per checksum)
reg                       q_valid_reg = 1'b0;
reg [DMA_DATA_WIDTH-1:0]  q_data_reg = 0;

reg                       out_valid_reg = 1'b0;
// the output record's checksum fields; the others are the taken record's registers (held: no
// record is taken while the output is held), so ST_SETUP's decision drives two flip-flops and
// the state, not the whole record
reg                       out_ic_reg = 1'b0;
reg [15:0]                out_csum_reg = 0;
/* verilator lint_on PROCASSINIT */

assign in_ready = in_ready_reg;
assign fb_ren = state_reg == ST_RUN;
assign fb_raddr = raddr_reg;
assign out_valid = out_valid_reg;
assign out_data = ft_rec(start_reg, len_reg, ifcs_reg, out_ic_reg, cso_reg, out_csum_reg);

wire [FB_ADDR_WIDTH-1:0] i_start = in_data[FR_START_LSB +: FB_ADDR_WIDTH];
wire [15:0] i_len  = in_data[FR_LEN_LSB +: FR_LEN_W];
wire        i_ifcs = in_data[FR_IFCS_BIT];
wire        i_ic   = in_data[FR_IC_BIT];
wire [7:0]  i_css  = in_data[FR_CSS_LSB +: FR_CSS_W];
wire [7:0]  i_cso  = in_data[FR_CSO_LSB +: FR_CSO_W];

reg [DMA_DATA_WIDTH-1:0] d;
reg [16:0] f;
reg [15:0] le;
reg [15:0] res;
reg [15:0] se;
reg [15:0] w0, w1;

// activity gate: an idle block costs one test per cycle in an event-driven simulator. The
// reset is applied after the gated code, not through the gate (for the clock: the datapath
// reset would reach every register's enable through it); a held
// output only waits for out_ready (no new frame is taken while it is held)
wire act = in_ready_reg || state_reg != ST_IDLE || p_valid_reg || q_valid_reg || (out_valid_reg ? out_ready : in_valid);
assign active = act || rst;
// fast path: the middle of a run (ST_RUN, the word read last cycle neither the first nor the
// last: no masking; no record taken or handed on): the general code below in that case,
// without its tests
wire run_mid = state_reg == ST_RUN && !p_first_reg && !p_last_reg && !in_ready_reg
               && !(out_valid_reg && out_ready);

/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) begin
    if (act) begin
    // accumulate the word masked last cycle (ST_SETUP's clear below comes later and wins)
    if (q_valid_reg) begin
        if (BYTES == 8) begin
            acc_reg <= acc_reg + {16'd0, q_data_reg[63:0]};
        end else if (BYTES == 16) begin
            acc_reg <= acc_reg + {16'd0, q_data_reg[63:0]} + {16'd0, q_data_reg[L1 +: 64]};
        end else begin
            acc_reg <= acc_reg + {16'd0, q_data_reg[63:0]} + {16'd0, q_data_reg[L1 +: 64]} + {16'd0, q_data_reg[L2 +: 64]}
                       + {16'd0, q_data_reg[L3 +: 64]};
        end
    end
    if (run_mid) begin
        q_data_reg <= fb_rdata;
        q_valid_reg <= p_valid_reg;
        p_valid_reg <= fb_gnt;
        if (fb_gnt) begin
            p_first_reg <= first_reg;
            p_last_reg <= words_reg == 1;
            first_reg <= 1'b0;
            raddr_reg <= raddr_reg + 1;
            words_reg <= words_reg - 1;
            if (words_reg == 1) begin
                state_reg <= ST_WAIT;
            end
        end
    end else begin
    in_ready_reg <= 1'b0;

    if (out_valid_reg && out_ready) begin
        out_valid_reg <= 1'b0;
    end

    // pipeline: mask the word read last cycle, accumulate it the next. 64-bit words summed as
    // integers: 2^16 = 1 (mod 65535), so folding the integer sum gives the ones'-complement sum
    // of the 16-bit lanes. Middle words (all bytes counted) skip the masking.
    d = fb_rdata;
    if (p_first_reg) begin
        d = d & ({DMA_DATA_WIDTH{1'b1}} << (8*css_reg[WS-1:0]));
    end
    if (p_last_reg && end_reg[WS-1:0] != 0) begin
        d = d & ~({DMA_DATA_WIDTH{1'b1}} << (8*end_reg[WS-1:0]));
    end
    q_data_reg <= d;
    q_valid_reg <= p_valid_reg;
    p_valid_reg <= 1'b0;

    case (state_reg)
        ST_IDLE: begin
            // the record is registered first: the run's arithmetic starts from flip-flops
            if (in_valid && !in_ready_reg && !out_valid_reg) begin
                in_ready_reg <= 1'b1;
                start_reg <= i_start;
                len_reg <= i_len;
                ifcs_reg <= i_ifcs;
                ic_reg <= i_ic;
                css_reg <= i_css;
                cso_reg <= i_cso;
                end_reg <= i_ifcs ? i_len : ((i_len > 4) ? i_len - 4 : 16'd0);
                state_reg <= ST_SETUP;
            end
        end
        ST_SETUP: begin
            // the run's registers are set either way (unused without a run): the decision
            // below drives only the state and the output's valid
            se = end_reg;
            w0 = {8'd0, css_reg} >> WS;
            w1 = (se - 1) >> WS;
            raddr_reg <= start_reg + w0[FB_ADDR_WIDTH-1:0];
            words_reg <= w1 - w0 + 1;
            first_reg <= 1'b1;
            acc_reg <= 0;
            out_ic_reg <= 1'b0;
            out_csum_reg <= 16'd0;
            if (ic_reg && {8'd0, css_reg} < se && {8'd0, cso_reg} + 2 <= se) begin
                state_reg <= ST_RUN;
            end else begin
                out_valid_reg <= 1'b1;
                state_reg <= ST_IDLE;
            end
        end
        ST_RUN: if (fb_gnt) begin
            // fb_ren is high and granted: word at raddr arrives next cycle
            p_valid_reg <= 1'b1;
            p_first_reg <= first_reg;
            p_last_reg <= words_reg == 1;
            first_reg <= 1'b0;
            raddr_reg <= raddr_reg + 1;
            words_reg <= words_reg - 1;
            if (words_reg == 1) begin
                state_reg <= ST_WAIT;
            end
        end
        ST_WAIT: begin
            // the last word is masked (p_valid_reg), then accumulated this cycle
            if (!p_valid_reg) begin
                state_reg <= ST_FIN;
            end
        end
        ST_FIN: begin
            // the lanes' sum (a balanced tree), folded next cycle
            sum_reg <= ({3'd0, acc_reg[15:0]} + {3'd0, acc_reg[31:16]}) + ({3'd0, acc_reg[47:32]} + {3'd0, acc_reg[63:48]})
                       + {3'd0, acc_reg[79:64]};
            state_reg <= ST_FOLD;
        end
        ST_FOLD: begin
            f = {1'b0, sum_reg[15:0]} + {14'd0, sum_reg[18:16]};
            f = {1'b0, f[15:0]} + {16'd0, f[16]};
            le = f[15:0];
            // lanes were summed little-endian: the big-endian sum is byte-swapped;
            // an odd CSS swaps once more
            res = css_reg[0] ? le : {le[7:0], le[15:8]};
            out_valid_reg <= 1'b1;
            out_ic_reg <= 1'b1;
            out_csum_reg <= ~res;
            state_reg <= ST_IDLE;
        end
        default: state_reg <= ST_IDLE;
    endcase
    end
    end

    if (rst) begin
        state_reg <= ST_IDLE;
        in_ready_reg <= 1'b0;
        p_valid_reg <= 1'b0;
        q_valid_reg <= 1'b0;
        out_valid_reg <= 1'b0;
    end
end
/* verilator lint_on BLKSEQ */

endmodule

`resetall
