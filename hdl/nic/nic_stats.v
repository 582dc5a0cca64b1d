/*
 * hilnic -- transmit statistics (GPTC, GOTCL/GOTCH, TPT), read-clear.
 * Counts frames that left the MAC; octets from destination address through FCS.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_stats
(
    input  wire        clk,
    input  wire        rst,

    input  wire        frame_sent,
    input  wire [15:0] frame_bytes,

    input  wire        clr_gptc,
    input  wire        clr_gotcl,
    input  wire        clr_gotch,
    input  wire        clr_tpt,

    output wire [31:0] gptc,
    output wire [63:0] gotc,
    output wire [31:0] gotch_latch,
    output wire [31:0] tpt,

    // the activity gate: the next clock edge may change this block's state (nic_top's `quiet`)
    output wire        active
);

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [31:0] gptc_reg = 0;
reg [63:0] gotc_reg = 0;
reg [31:0] gotch_latch_reg = 0;
reg [31:0] tpt_reg = 0;
/* verilator lint_on PROCASSINIT */

assign gptc = gptc_reg;
assign gotc = gotc_reg;
assign gotch_latch = gotch_latch_reg;
assign tpt = tpt_reg;

// activity gate: an idle block costs one test per cycle in an event-driven simulator
wire act = rst || frame_sent || clr_gptc || clr_gotcl || clr_gotch || clr_tpt;
assign active = act;

always @(posedge clk) begin
    if (act) begin
    if (frame_sent) begin
        gptc_reg <= gptc_reg + 1;
        tpt_reg <= tpt_reg + 1;
        gotc_reg <= gotc_reg + {48'd0, frame_bytes};
    end
    if (clr_gptc) begin
        gptc_reg <= frame_sent ? 32'd1 : 32'd0;
    end
    if (clr_tpt) begin
        tpt_reg <= frame_sent ? 32'd1 : 32'd0;
    end
    if (clr_gotcl) begin
        // reading GOTCL returns the low half, latches the high half for GOTCH, clears both
        gotch_latch_reg <= gotc_reg[63:32];
        gotc_reg <= frame_sent ? {48'd0, frame_bytes} : 64'd0;
    end
    if (clr_gotch) begin
        gotch_latch_reg <= 32'd0;
    end
    if (rst) begin
        gptc_reg <= 0;
        gotc_reg <= 0;
        gotch_latch_reg <= 0;
        tpt_reg <= 0;
    end
end
end

endmodule

`resetall
