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
// the flags and the count as flip-flops (from the next pointers): the consumers' handshakes
// start from a register, not from a pointer compare or subtraction
reg                full_reg = 1'b0;
reg                empty_reg = 1'b1;
reg [DEPTH_LOG2:0] count_reg = 0;
/* verilator lint_on PROCASSINIT */

wire full = full_reg;
wire empty = empty_reg;

assign in_ready = !full;
assign out_valid = !empty;
assign out_data = mem[rd_ptr_reg[DEPTH_LOG2-1:0]];
assign count = count_reg;

wire push = in_valid && !full;
wire pop = out_ready && !empty;
// activity gate: an idle FIFO costs one test per cycle in an event-driven simulator. The
// reset is applied after the gated code, not through the gate (for the clock: the datapath
// reset would reach every register's enable through it)
wire act = push || pop;
assign active = act || rst;

reg [DEPTH_LOG2:0] wr_n, rd_n;   // the next pointers
/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) begin
    if (act) begin
        wr_n = wr_ptr_reg;
        rd_n = rd_ptr_reg;
        if (push) begin
            mem[wr_ptr_reg[DEPTH_LOG2-1:0]] <= in_data;
            wr_n = wr_ptr_reg + 1;
        end
        if (pop) begin
            rd_n = rd_ptr_reg + 1;
        end
        wr_ptr_reg <= wr_n;
        rd_ptr_reg <= rd_n;
        full_reg <= (wr_n ^ rd_n) == {1'b1, {DEPTH_LOG2{1'b0}}};
        empty_reg <= wr_n == rd_n;
        count_reg <= wr_n - rd_n;
    end
    if (rst) begin
        wr_ptr_reg <= 0;
        rd_ptr_reg <= 0;
        full_reg <= 1'b0;
        empty_reg <= 1'b1;
        count_reg <= 0;
    end
end
/* verilator lint_on BLKSEQ */

endmodule

`resetall
