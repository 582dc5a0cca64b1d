/*
 * hilnic testbench -- nic_crc32 alone: frames from a file, one FCS line per frame.
 *
 * +framefile=F: $readmemh image of 64-bit words. Per frame a header word {gap[15:0] idle
 * cycles before the frame, 16'd0, 16'd0, len[15:0]} and ceil(len / 8) data words (bytes in
 * wire order from [7:0]; the bytes past the end of the last word are garbage on purpose);
 * len = 16'hFFFF ends the list. Prints "FCS <frame> <fcs hex>" 3 edges after each frame's
 * last word (tests/rtl/test_crc32.py compares them with zlib.crc32), then "CRC_DONE".
 * Frames follow each other as closely as the module allows: start on the edge after the
 * previous last word (gap 0), the first word on the next one.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module tb_crc32 #
(
    parameter WORDS = 4096
)
();

/* verilator lint_off PROCASSINIT */ // power-up values of the stimulus, set before time 0
reg clk = 1'b0;
reg rst = 1'b1;
reg start = 1'b0;
reg [2:0] pad = 3'd0;
reg in_valid = 1'b0;
reg in_last = 1'b0;
reg [63:0] in_data = 64'd0;
/* verilator lint_on PROCASSINIT */
wire [31:0] fcs;
wire busy;

nic_crc32 dut (
    .clk(clk),
    .rst(rst),
    .start(start),
    .pad(pad),
    .in_valid(in_valid),
    .in_last(in_last),
    .in_data(in_data),
    .fcs(fcs),
    .busy(busy)
);

always #5 clk = !clk;

reg [63:0] mem [0:WORDS-1];
/* verilator lint_off PROCASSINIT */ // power-up values (no reset in a bench)
reg [3:0] last_pipe = 4'd0;
integer reported = 0;
/* verilator lint_on PROCASSINIT */

// the FCS is valid after the third edge following the one that took the last word
always @(posedge clk) begin
    last_pipe <= {last_pipe[2:0], in_valid && in_last};
end
/* verilator lint_off BLKSEQ */ // a counter the initial block reads (bench code, no hardware)
always @(negedge clk) begin
    if (last_pipe[3]) begin
        $display("FCS %0d %08x", reported, fcs);
        reported = reported + 1;
    end
end
/* verilator lint_on BLKSEQ */

integer idx, k, len, nw, gap, frames;
reg [8*256-1:0] path;
initial begin
    if (!$value$plusargs("framefile=%s", path)) begin
        $display("CRC_ERROR no +framefile");
        $finish;
    end
    $readmemh(path, mem);
    idx = 0;
    frames = 0;
    @(negedge clk);
    @(negedge clk);
    rst = 1'b0;
    while (mem[idx][15:0] != 16'hFFFF) begin
        len = {16'd0, mem[idx][15:0]};
        gap = {16'd0, mem[idx][63:48]};
        nw = (len + 7) / 8;
        idx = idx + 1;
        for (k = 0; k < gap; k = k + 1) begin
            @(negedge clk);
        end
        start = 1'b1;
        pad = 3'd0 - len[2:0];
        @(negedge clk);
        start = 1'b0;
        for (k = 0; k < nw; k = k + 1) begin
            in_valid = 1'b1;
            in_last = k == nw - 1;
            in_data = mem[idx];
            idx = idx + 1;
            @(negedge clk);
        end
        in_valid = 1'b0;
        in_last = 1'b0;
        in_data = 64'hDEAD_BEEF_DEAD_BEEF;
        frames = frames + 1;
    end
    while (reported < frames) begin
        @(negedge clk);
    end
    repeat (4) @(negedge clk);
    $display("CRC_DONE frames=%0d busy=%0d", frames, busy);
    $finish;
end

endmodule

`resetall
