/*
 * hilnic -- frame buffer: one write port, two registered read ports (port A: checksum
 * pass, port B: MAC), built from two banks (even and odd words), each a RAM with one
 * write and one read port, so the buffer is stored once: a RAM with two read ports is
 * built as two copies (twice the block RAM). A read port of either bank serves port B
 * when B reads that bank (the MAC cannot wait), otherwise port A. Both readers walk
 * consecutive words, so after at most one lost cycle they read opposite banks.
 *
 * Port B: a registered read (for the clock: the block RAM's 4 ns clock-to-out ends in a
 * flip-flop, not in the MAC's logic): rdata_b is the word of port B's last read from the
 * second edge after it, held until the next read's word replaces it (the MAC uses a word
 * for WIDTH/64 cycles).
 * Port A: a read is done at an edge where gnt_a is high; rdata_a is that word in the
 * next cycle only.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_fbuf #
(
    // word width in bits
    parameter WIDTH = 128,
    // log2 of the number of words
    parameter ADDR_WIDTH = 11
)
(
    input  wire                   clk,

    input  wire                   we,
    input  wire [ADDR_WIDTH-1:0]  waddr,
    input  wire [WIDTH-1:0]       wdata,

    input  wire                   ren_a,
    input  wire [ADDR_WIDTH-1:0]  raddr_a,
    output wire                   gnt_a,
    output wire [WIDTH-1:0]       rdata_a,

    input  wire                   ren_b,
    input  wire [ADDR_WIDTH-1:0]  raddr_b,
    output wire [WIDTH-1:0]       rdata_b
);

localparam BW = ADDR_WIDTH - 1;     // bank address width

reg [WIDTH-1:0] mem0 [0:(1<<BW)-1];
reg [WIDTH-1:0] mem1 [0:(1<<BW)-1];
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [WIDTH-1:0] q0_reg = 0;
reg [WIDTH-1:0] q1_reg = 0;
reg             a_sel_reg = 1'b0;   // bank of port A's last read
reg             b_sel_reg = 1'b0;   // bank of port B's last read
reg             b_new_reg = 1'b0;   // port B read at the last edge
reg [WIDTH-1:0] b_out_reg = 0;
/* verilator lint_on PROCASSINIT */

wire b_bank = raddr_b[0];
assign gnt_a = ren_a && !(ren_b && raddr_a[0] == b_bank);

wire          en0 = (ren_b && !b_bank) || (gnt_a && !raddr_a[0]);
wire          en1 = (ren_b && b_bank) || (gnt_a && raddr_a[0]);
wire [BW-1:0] addr0 = (ren_b && !b_bank) ? raddr_b[ADDR_WIDTH-1:1] : raddr_a[ADDR_WIDTH-1:1];
wire [BW-1:0] addr1 = (ren_b && b_bank) ? raddr_b[ADDR_WIDTH-1:1] : raddr_a[ADDR_WIDTH-1:1];

wire [WIDTH-1:0] b_word = b_sel_reg ? q1_reg : q0_reg;
assign rdata_a = a_sel_reg ? q1_reg : q0_reg;
assign rdata_b = b_out_reg;

integer i;
initial begin
    for (i = 0; i < (1<<BW); i = i + 1) begin
        mem0[i] = 0;
        mem1[i] = 0;
    end
end

always @(posedge clk) begin
    if (we && !waddr[0]) begin
        mem0[waddr[ADDR_WIDTH-1:1]] <= wdata;
    end
    if (we && waddr[0]) begin
        mem1[waddr[ADDR_WIDTH-1:1]] <= wdata;
    end
    if (en0) begin
        q0_reg <= mem0[addr0];
    end
    if (en1) begin
        q1_reg <= mem1[addr1];
    end
    if (gnt_a) begin
        a_sel_reg <= raddr_a[0];
    end
    if (ren_b) begin
        b_sel_reg <= b_bank;
    end
    b_new_reg <= ren_b;
    if (b_new_reg) begin
        b_out_reg <= b_word;
    end
end

endmodule

`resetall
