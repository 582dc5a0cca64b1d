/*
 * hilnic -- small synchronous FIFO, show-ahead output (first word visible while
 * out_valid), one push and one pop per cycle.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_fifo #
(
    // bits per entry
    parameter WIDTH = 8,
    // log2 of the number of entries
    parameter DEPTH_LOG2 = 4
)
(
    input  wire                   clk,
    input  wire                   rst,

    input  wire [WIDTH-1:0]       in_data,
    input  wire                   in_valid,
    output wire                   in_ready,

    output wire [WIDTH-1:0]       out_data,
    output wire                   out_valid,
    input  wire                   out_ready,

    output wire [DEPTH_LOG2:0]    count,

    // the activity gate: the next clock edge may change this block's state (nic_top's `quiet`)
    output wire                   active
);

reg [WIDTH-1:0] mem [0:(1<<DEPTH_LOG2)-1];

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [DEPTH_LOG2:0] wr_ptr_reg = 0;
reg [DEPTH_LOG2:0] rd_ptr_reg = 0;
/* verilator lint_on PROCASSINIT */

wire full = (wr_ptr_reg ^ rd_ptr_reg) == {1'b1, {DEPTH_LOG2{1'b0}}};
wire empty = wr_ptr_reg == rd_ptr_reg;

assign in_ready = !full;
assign out_valid = !empty;
assign out_data = mem[rd_ptr_reg[DEPTH_LOG2-1:0]];
assign count = wr_ptr_reg - rd_ptr_reg;

wire push = in_valid && !full;
wire pop = out_ready && !empty;
// activity gate: an idle FIFO costs one test per cycle in an event-driven simulator
wire act = push || pop || rst;
assign active = act;

always @(posedge clk) begin
    if (act) begin
        if (push) begin
            mem[wr_ptr_reg[DEPTH_LOG2-1:0]] <= in_data;
            wr_ptr_reg <= wr_ptr_reg + 1;
        end
        if (pop) begin
            rd_ptr_reg <= rd_ptr_reg + 1;
        end
        if (rst) begin
            wr_ptr_reg <= 0;
            rd_ptr_reg <= 0;
        end
    end
end

endmodule

`resetall
