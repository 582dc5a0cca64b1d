/*
 * hilnic -- frame buffer: inferable RAM, one write port, two registered read ports
 * (port A: checksum pass, port B: MAC).
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
    output wire [WIDTH-1:0]       rdata_a,

    input  wire                   ren_b,
    input  wire [ADDR_WIDTH-1:0]  raddr_b,
    output wire [WIDTH-1:0]       rdata_b
);

reg [WIDTH-1:0] mem [0:(1<<ADDR_WIDTH)-1];
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [WIDTH-1:0] rdata_a_reg = 0;
reg [WIDTH-1:0] rdata_b_reg = 0;
/* verilator lint_on PROCASSINIT */

assign rdata_a = rdata_a_reg;
assign rdata_b = rdata_b_reg;

integer i;
initial begin
    for (i = 0; i < (1<<ADDR_WIDTH); i = i + 1) begin
        mem[i] = 0;
    end
end

always @(posedge clk) begin
    if (we) begin
        mem[waddr] <= wdata;
    end
    if (ren_a) begin
        rdata_a_reg <= mem[raddr_a];
    end
    if (ren_b) begin
        rdata_b_reg <= mem[raddr_b];
    end
end

endmodule

`resetall
