/*
 * hilnic -- simulation only: XGMII (64-bit, IEEE 802.3 clause 46) frame decoder.
 *
 * Watches txd/txc, finds a start character (0xFB) in lane 0, checks the preamble and SFD
 * (55 55 55 55 55 55 D5 in lanes 1..7), collects the frame bytes (destination MAC through
 * FCS) until a terminate character (0xFD, any lane), and hands Python one whole frame per
 * wake-up: at the falling edge after the terminate, fr_seq takes the new frame count; the
 * bytes are in fr_buf (2048-bit chunks, byte i at bits [8*(i%256) +: 8] of chunk i/256),
 * fr_len bytes long; fr_start_cycle / fr_end_cycle are the cycles (of `cycle`) at which the
 * start and terminate words were sampled; fr_err flags this frame's framing errors.
 * The FCS verdict is left to Python (zlib.crc32), which keeps this module cheap.
 *
 * fr_err / err_mask bits:
 *   0  bad preamble or SFD in the start word
 *   1  control character inside a frame (other than the terminate)
 *   2  inter-frame gap shorter than 12 idle bytes before this frame
 *   3  frame longer than the capture buffer (truncated)
 *   4  lanes after the terminate are not idle (0x07 control)
 *   5  (err_mask only) garbage between frames: data, a start not in lane 0, or a control
 *      character other than idle
 * err_count counts every error event; err_first_cycle is the cycle of the first one.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module tb_xgmii_rx #
(
    // capture buffer size in 256-byte chunks
    parameter CHUNKS = 64,
    // clock period in ps: fr_seq follows half a period after the terminate's rising edge
    parameter CLK_PERIOD_PS = 6400
)
(
    input  wire        clk,
    input  wire        rst,
    input  wire [63:0] cycle,
    input  wire [63:0] xgmii_txd,
    input  wire [7:0]  xgmii_txc,

    // between frames with the gap after the last one seen (the harness may stop the clock)
    output wire        quiet
);

localparam BUF_BYTES = CHUNKS * 256;

/* verilator lint_off UNUSEDPARAM */ // kept with the other XGMII constants for reference
localparam [7:0] XGMII_IDLE  = 8'h07;
/* verilator lint_on UNUSEDPARAM */
localparam [7:0] XGMII_START = 8'hFB;
localparam [7:0] XGMII_TERM  = 8'hFD;
localparam [63:0] PREAMBLE   = 64'hD5555555_555555FB;  // lane 0 = start ... lane 7 = SFD
localparam [63:0] IDLE_WORD  = 64'h07070707_07070707;

// to Python
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [2047:0] fr_buf [0:CHUNKS-1];
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [31:0]   fr_len = 0;
reg [63:0]   fr_start_cycle = 0;
reg [63:0]   fr_end_cycle = 0;
reg [7:0]    fr_err = 0;
/* verilator lint_off SYNCASYNCNET */ // event counter: Python and a half-cycle-late copy watch it (event-driven, by design)
reg [31:0]   fr_cnt = 0;
/* verilator lint_on SYNCASYNCNET */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [31:0]   fr_seq = 0;
/* verilator lint_on UNUSEDSIGNAL */
reg [31:0]   err_mask = 0;
reg [31:0]   err_count = 0;
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [63:0]   err_first_cycle = 0;
/* verilator lint_on UNUSEDSIGNAL */

localparam real HALF_PERIOD_NS = CLK_PERIOD_PS / 2000.0;

// state
reg          in_frame = 0;
reg          seen_frame = 0;
reg [31:0]   len = 0;
reg [7:0]    err = 0;
reg [31:0]   ifg = 0;
reg [63:0]   start_cycle = 0;

reg [3:0]    term_lane;
reg [63:0]   term_mask;    // lanes from the terminate up
reg [63:0]   term_expect;  // FD then idles
reg [7:0]    new_err = 0;
/* verilator lint_on PROCASSINIT */
reg          glitch;
integer      k;

initial begin
    for (k = 0; k < CHUNKS; k = k + 1) fr_buf[k] = 0;
end

// Per cycle: one test of one wire for a data word inside a frame (xg_data) or an idle word
// between frames once the gap is long enough to be legal (xg_idle, nothing to do);
// everything else (start, terminate, errors, reset) is rare and may cost more.
// The gates are continuous, re-evaluated only when txc, txd (idle test) or the state change.
wire xg_data = in_frame & (xgmii_txc == 8'h00) & ~rst;
assign quiet = !in_frame && (ifg >= 12 || !seen_frame);
wire xg_idle = ~in_frame & (xgmii_txc == 8'hFF) & (xgmii_txd == IDLE_WORD) & ~rst & (ifg >= 12);

/* verilator lint_off BLKSEQ */ // '=' for this block's temporaries and its ifg count, which only this block and its own xg_idle gate read
always @(posedge clk) begin
    if (xg_data) begin
        // past the buffer the index is out of range and the write is dropped; bit 3 of err
        // is set at the terminate (len only grows, so some word fell past the buffer iff
        // the terminate's did)
        /* verilator lint_off WIDTHTRUNC */ // testbench arithmetic: the implicit truncation is intended and the values fit
        fr_buf[len[31:8]][len[7:3]*64 +: 64] <= xgmii_txd;
        /* verilator lint_on WIDTHTRUNC */
        len = len + 8;
    end else if (xg_idle) begin
        // a legal gap grows: nothing to record
    end else if (rst) begin
        in_frame <= 1'b0;
        seen_frame <= 1'b0;
        len = 0;
        err = 0;
        ifg = 0;
    end else if (in_frame) begin
        if (xgmii_txc == 8'h00) begin
            /* verilator lint_off WIDTHTRUNC */ // testbench arithmetic: the implicit truncation is intended and the values fit
            if (len < BUF_BYTES) fr_buf[len[31:8]][len[7:3]*64 +: 64] <= xgmii_txd;
            /* verilator lint_on WIDTHTRUNC */
            else err = err | 8'h08;
            len = len + 8;
        end else begin
            // a terminate in lane k: txc = 1s from lane k up, FD in lane k, idles above
            case (xgmii_txc)
                8'hFF: term_lane = 0;
                8'hFE: term_lane = 1;
                8'hFC: term_lane = 2;
                8'hF8: term_lane = 3;
                8'hF0: term_lane = 4;
                8'hE0: term_lane = 5;
                8'hC0: term_lane = 6;
                8'h80: term_lane = 7;
                default: term_lane = 8;
            endcase
            term_mask = {64{1'b1}} << (term_lane * 8);
            term_expect = ({8{8'h07}} << (term_lane * 8 + 8)) | (64'hFD << (term_lane * 8));
            if (term_lane != 8 && xgmii_txd[term_lane*8 +: 8] == XGMII_TERM) begin
                if ((xgmii_txd & term_mask) != (term_expect & term_mask)) err = err | 8'h10;
                /* verilator lint_off WIDTHTRUNC */ // testbench arithmetic: the implicit truncation is intended and the values fit
                if (len < BUF_BYTES) fr_buf[len[31:8]][len[7:3]*64 +: 64] <= xgmii_txd;
                /* verilator lint_on WIDTHTRUNC */
                else err = err | 8'h08;
                /* verilator lint_off WIDTHEXPAND */ // testbench arithmetic: the implicit extension is intended and the values fit
                len = len + term_lane;
                /* verilator lint_on WIDTHEXPAND */
                if (len > BUF_BYTES) len = BUF_BYTES;
                fr_len <= len;
                fr_start_cycle <= start_cycle;
                fr_end_cycle <= cycle;
                fr_err <= err;
                fr_cnt <= fr_cnt + 1;
                new_err = err;
                in_frame <= 1'b0;
                seen_frame <= 1'b1;
                /* verilator lint_off WIDTHEXPAND */ // testbench arithmetic: the implicit extension is intended and the values fit
                ifg = 7 - term_lane;
                /* verilator lint_on WIDTHEXPAND */
            end else begin
                // a control character that does not end the frame; keep collecting
                err = err | 8'h02;
                /* verilator lint_off WIDTHTRUNC */ // testbench arithmetic: the implicit truncation is intended and the values fit
                if (len < BUF_BYTES) fr_buf[len[31:8]][len[7:3]*64 +: 64] <= xgmii_txd;
                /* verilator lint_on WIDTHTRUNC */
                len = len + 8;
            end
        end
    end else if (xgmii_txc == 8'hFF && xgmii_txd == IDLE_WORD) begin
        if (ifg < 12) ifg = ifg + 8;
    end else begin
        new_err = 0;
        glitch = 1'b0;
        if (xgmii_txc[0] && xgmii_txd[7:0] == XGMII_START) begin
            err = 0;
            if (xgmii_txd != PREAMBLE || xgmii_txc != 8'h01) err = err | 8'h01;
            if (seen_frame && ifg < 12) err = err | 8'h04;
            in_frame <= 1'b1;
            len = 0;
            start_cycle <= cycle;
        end else begin
            glitch = 1'b1;
            ifg = ifg + 8;
        end
        if (glitch) begin
            if (err_count == 0) err_first_cycle <= cycle;
            err_count <= err_count + 1;
            err_mask <= err_mask | 32'h20;
            if (err_count < 10)
                $display("%0t %m: XGMII garbage between frames at cycle %0d: txd %h txc %h",
                    $time, cycle, xgmii_txd, xgmii_txc);
        end
    end
    if (new_err != 0) begin
        if (err_count == 0) err_first_cycle <= cycle;
        err_count <= err_count + 1;
        /* verilator lint_off WIDTHEXPAND */ // testbench arithmetic: the implicit extension is intended and the values fit
        err_mask <= err_mask | new_err;
        /* verilator lint_on WIDTHEXPAND */
        if (err_count < 10)
            $display("%0t %m: XGMII framing error in the frame ending at cycle %0d: flags %h",
                $time, cycle, new_err);
        new_err = 0;
    end
end
/* verilator lint_on BLKSEQ */

always @(fr_cnt) fr_seq <= #(HALF_PERIOD_NS) fr_cnt;

// a frame's fields in one vector, so Python reads them with one access per frame
// (from the least significant bit: count, len, start cycle, end cycle, err; the count, not
// the delayed fr_seq, so the vector is up to date when fr_seq's change wakes Python)
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire [8+64+64+32+32-1:0] fr_info = {fr_err, fr_end_cycle, fr_start_cycle, fr_len, fr_cnt};
/* verilator lint_on UNUSEDSIGNAL */

endmodule

`resetall
