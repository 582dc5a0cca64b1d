/*
 * hilnic -- descriptor fetch: reads descriptors from the fetch pointer toward TDT in
 * bursts of up to DESC_PREFETCH, wrapping at N, never crossing the ring end or a 4 KiB
 * boundary, limited by the free space of the descriptor FIFO.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_desc_fetch #
(
    // DMA address width
    parameter DMA_ADDR_WIDTH = 64,
    // DMA data width
    parameter DMA_DATA_WIDTH = 128,
    // descriptors per burst at most
    parameter DESC_PREFETCH = 8,
    // log2 of the descriptor FIFO depth
    parameter FIFO_LOG2 = 4
)
(
    input  wire                       clk,
    input  wire                       rst,

    input  wire                       enable,     // TCTL.EN and not halted/draining
    input  wire [63:0]                tdba,
    input  wire [16:0]                ndesc,
    input  wire [15:0]                tdh,
    input  wire [15:0]                tdt,

    input  wire                       desc_pop,   // one descriptor left the FIFO

    output wire                       req_valid,
    input  wire                       req_ready,
    output wire [DMA_ADDR_WIDTH-1:0]  req_addr,
    output wire [8:0]                 req_beats,
    output wire [8:0]                 req_count,

    // the activity gate: the next clock edge may change this block's state (nic_top's `quiet`)
    output wire                       active
);

localparam BYTES = DMA_DATA_WIDTH/8;
localparam FIFO_DEPTH = 1 << FIFO_LOG2;
localparam integer FIFO_DEPTH_I = FIFO_DEPTH;
localparam [FIFO_LOG2+1:0] FDEPTH = FIFO_DEPTH_I[FIFO_LOG2+1:0];

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg                       init_reg = 1'b1;
reg [15:0]                fetch_idx_reg = 0;
reg [FIFO_LOG2+1:0]       credits_reg = 0;    // descriptors in flight or stored
reg                       req_valid_reg = 1'b0;
reg [DMA_ADDR_WIDTH-1:0]  req_addr_reg = 0;
reg [8:0]                 req_beats_reg = 0;
reg [8:0]                 req_count_reg = 0;
// a fetch is decided in two cycles (count against the ring and the prefetch limit, address;
// then against the credits) and issued in the next (count against the 4 KiB page, beats):
// no carry chains in series
reg                       pre_reg = 1'b0;
reg [FIFO_LOG2+1:0]       pre_cnt_reg = 0;   // <= DESC_PREFETCH <= FIFO_DEPTH / 4
reg [63:0]                pre_addr_reg = 0;
reg                       calc_reg = 1'b0;
reg [16:0]                calc_cnt_reg = 0;
reg [63:0]                calc_addr_reg = 0;
/* verilator lint_on PROCASSINIT */

assign req_valid = req_valid_reg;
assign req_addr = req_addr_reg;
assign req_beats = req_beats_reg;
assign req_count = req_count_reg;

reg [16:0] avail;
reg [16:0] cnt;
reg [63:0] a;
/* verilator lint_off UNUSEDSIGNAL */ // room[3:0]: the 4 KiB room in bytes, used in descriptors (room[12:4])
reg [12:0] room;
/* verilator lint_on UNUSEDSIGNAL */
reg [16:0] nxt;
reg [FIFO_LOG2+1:0] cred;
reg [FIFO_LOG2+1:0] room_c;   // credits left

// activity gate: an idle block costs one test per cycle in an event-driven simulator. The
// reset is applied after the gated code, not through the gate (for the clock: the datapath
// reset would reach every register's enable through it)
wire act = desc_pop || req_valid_reg || init_reg || pre_reg || calc_reg || (enable && fetch_idx_reg != tdt && credits_reg < FIFO_DEPTH);
assign active = act || rst;

/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) begin
    if (act) begin
    cred = credits_reg;
    if (desc_pop) begin
        cred = cred - 1;
    end

    if (req_valid_reg && req_ready) begin
        req_valid_reg <= 1'b0;
        cred = cred + req_count_reg[FIFO_LOG2+1:0];
        nxt = {1'b0, fetch_idx_reg} + {8'd0, req_count_reg};
        if (nxt >= ndesc) begin
            nxt = 0;
        end
        fetch_idx_reg <= nxt[15:0];
    end else if (init_reg) begin
        fetch_idx_reg <= tdh;
        init_reg <= 1'b0;
    end else if (calc_reg) begin
        // credits only came back and TDT only moved on since the decision: its count holds
        a = calc_addr_reg;
        cnt = calc_cnt_reg;
        room = 13'd4096 - {1'b0, a[11:0]};
        if (cnt > {8'd0, room[12:4]}) begin
            cnt = {8'd0, room[12:4]};
        end
        calc_reg <= 1'b0;
        req_valid_reg <= 1'b1;
        req_addr_reg <= a[DMA_ADDR_WIDTH-1:0];
        req_count_reg <= cnt[8:0];
        /* verilator lint_off WIDTHTRUNC */ /* verilator lint_off WIDTHEXPAND */ // 64-bit address arithmetic with integer BYTES; at most 4096/BYTES + 1 beats: fits 9 bits
        req_beats_reg <= ((a % BYTES) + cnt * 16 + BYTES - 1) / BYTES;
        /* verilator lint_on WIDTHTRUNC */ /* verilator lint_on WIDTHEXPAND */
    end else if (pre_reg) begin
        // credits only came back and TDT only moved on since the ring count: it holds
        // (cred < FIFO_DEPTH: credits only came back since). The credits left, FDEPTH - cred,
        // are FDEPTH - credits_reg, one more with a pop: both compares from registers, the pop
        // picking one (for the clock: the FIFO's pop does not feed a subtraction and a compare)
        room_c = FDEPTH - credits_reg;
        pre_reg <= 1'b0;
        calc_reg <= 1'b1;
        /* verilator lint_off WIDTHEXPAND */ // counts of at most FIFO_DEPTH + 1, zero-extended
        if (desc_pop) begin
            calc_cnt_reg <= (pre_cnt_reg > room_c + 1) ? room_c + 1 : pre_cnt_reg;
        end else begin
            calc_cnt_reg <= (pre_cnt_reg > room_c) ? room_c : pre_cnt_reg;
        end
        /* verilator lint_on WIDTHEXPAND */
        calc_addr_reg <= pre_addr_reg;
    end else if (!req_valid_reg && enable && fetch_idx_reg != tdt && {1'b0, tdt} < ndesc
                 && {1'b0, fetch_idx_reg} < ndesc && credits_reg < FIFO_DEPTH) begin
        // (credits_reg, not cred, for the clock: the FIFO's pop does not reach this decision;
        // a pop that frees the last credit is seen a cycle later)
        if (tdt > fetch_idx_reg) begin
            avail = tdt - fetch_idx_reg;
        end else begin
            avail = ndesc - fetch_idx_reg;
        end
        cnt = avail;
        if (cnt > DESC_PREFETCH) begin
            cnt = DESC_PREFETCH;
        end
        pre_reg <= 1'b1;
        /* verilator lint_off WIDTHTRUNC */ // cnt <= DESC_PREFETCH here
        pre_cnt_reg <= cnt;
        /* verilator lint_on WIDTHTRUNC */
        pre_addr_reg <= tdba + {44'd0, fetch_idx_reg, 4'b0000};
    end
    credits_reg <= cred;
    end

    if (rst) begin
        init_reg <= 1'b1;
        fetch_idx_reg <= 0;
        credits_reg <= 0;
        req_valid_reg <= 1'b0;
        pre_reg <= 1'b0;
        calc_reg <= 1'b0;
    end
end
/* verilator lint_on BLKSEQ */

endmodule

`resetall
