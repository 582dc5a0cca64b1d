/*
 * hilnic -- simulation only: AXI4 slave host-memory transactor.
 *
 * Turns every whole AXI burst into ONE request to Python (cocotb) and plays the answer
 * out beat by beat, so Python wakes once per burst, never per clock.
 *
 * Read:  an AR handshake latches the request into rd_req_* and bumps rd_req_cnt; at the
 *        following falling clock edge rd_req_seq takes that value (Python awaits its value
 *        change, so every field is stable when it looks). Python writes the burst image
 *        into rd_buf[rd_req_slot*RD_CHUNKS_PER_SLOT + k] (2048-bit chunks, beat b of the
 *        burst at bits [(b*DW) % 2048 +: DW] of chunk (b*DW)/2048), the response code into
 *        rd_ack_resp, then rd_ack_seq = rd_req_seq. The slot is then played out, in AR
 *        order, no earlier than cfg_rd_latency cycles after the AR handshake, with
 *        cfg_r_gap_fixed idle cycles before each beat plus a random idle cycle with
 *        probability cfg_r_gap_prob/256 (rvalid low; never withdrawn once high).
 *        RD_SLOTS reads may be outstanding; ARREADY also drops with probability
 *        cfg_ar_stall/256 per cycle.
 * Write: an AW handshake opens the collector; W beats (WREADY low with probability
 *        cfg_w_stall/256) land in wr_buf / wr_strb_buf (2048-bit data chunks, 256-bit
 *        strobe chunks, same layout as rd_buf); after the last beat (counted from AWLEN)
 *        wr_req_cnt is bumped and copied to wr_req_seq at the falling edge. Python reads
 *        the chunks, answers wr_ack_resp and sets wr_ack_seq = wr_req_seq; BRESP follows
 *        cfg_wr_latency cycles later (BVALID delayed further with probability
 *        cfg_b_gap_prob/256 per cycle). Up to B_DEPTH B responses may wait.
 *
 * Everything Python writes (rd_buf, rd_ack_*, wr_ack_*) is driven only by Python.
 * The random generator is reseeded from cfg_seed while rst is high and only runs while a
 * random knob is non-zero.
 *
 * Speed: Icarus pays per executed statement, so every block is guarded by a cheap
 * "anything to do" test, and the hand-off counters are delayed copies that only wake the
 * simulator when they change (no per-cycle falling-edge process).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module tb_axi_mem #
(
    // AXI data width in bits (64, 128, 256 ... up to 2048)
    parameter DATA_WIDTH = 128,
    // AXI address width
    parameter ADDR_WIDTH = 64,
    // AXI ID width (1..8)
    parameter ID_WIDTH = 4,
    // reads outstanding (slots), a power of two
    parameter RD_SLOTS = 8,
    // B responses that may wait, a power of two
    parameter B_DEPTH = 8,
    // clock period in ps: requests reach Python half a period after the rising edge
    parameter CLK_PERIOD_PS = 6400
)
(
    input  wire                    clk,
    input  wire                    rst,
    input  wire [63:0]             cycle,

    /*
     * Knobs (from Python)
     */
    input  wire [15:0]             cfg_rd_latency,
    input  wire [15:0]             cfg_wr_latency,
    input  wire [7:0]              cfg_r_gap_fixed,
    input  wire [7:0]              cfg_r_gap_prob,
    input  wire [7:0]              cfg_ar_stall,
    input  wire [7:0]              cfg_aw_stall,
    input  wire [7:0]              cfg_w_stall,
    input  wire [7:0]              cfg_b_gap_prob,
    input  wire [31:0]             cfg_seed,

    /*
     * AXI4 slave
     */
    input  wire [ID_WIDTH-1:0]     s_axi_awid,
    input  wire [ADDR_WIDTH-1:0]   s_axi_awaddr,
    input  wire [7:0]              s_axi_awlen,
    input  wire [2:0]              s_axi_awsize,
    input  wire [1:0]              s_axi_awburst,
    input  wire                    s_axi_awvalid,
    output wire                    s_axi_awready,
    input  wire [DATA_WIDTH-1:0]   s_axi_wdata,
    input  wire [DATA_WIDTH/8-1:0] s_axi_wstrb,
    /* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
    input  wire                    s_axi_wlast,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                    s_axi_wvalid,
    output wire                    s_axi_wready,
    output wire [ID_WIDTH-1:0]     s_axi_bid,
    output wire [1:0]              s_axi_bresp,
    output wire                    s_axi_bvalid,
    input  wire                    s_axi_bready,
    input  wire [ID_WIDTH-1:0]     s_axi_arid,
    input  wire [ADDR_WIDTH-1:0]   s_axi_araddr,
    input  wire [7:0]              s_axi_arlen,
    input  wire [2:0]              s_axi_arsize,
    input  wire [1:0]              s_axi_arburst,
    input  wire                    s_axi_arvalid,
    output wire                    s_axi_arready,
    output wire [ID_WIDTH-1:0]     s_axi_rid,
    output wire [DATA_WIDTH-1:0]   s_axi_rdata,
    output wire [1:0]              s_axi_rresp,
    output wire                    s_axi_rlast,
    output wire                    s_axi_rvalid,
    input  wire                    s_axi_rready
);

localparam CHUNK_BITS = 2048;
localparam BEATS_PER_CHUNK = CHUNK_BITS / DATA_WIDTH;
// a slot holds a 256-beat burst
localparam RD_CHUNKS_PER_SLOT = 256 / BEATS_PER_CHUNK;
localparam WR_CHUNKS = RD_CHUNKS_PER_SLOT;
localparam STRB_CHUNK_BITS = CHUNK_BITS / 8;
localparam SLOT_W = RD_SLOTS > 1 ? $clog2(RD_SLOTS) : 1;
localparam B_W = B_DEPTH > 1 ? $clog2(B_DEPTH) : 1;
localparam BPC_W = $clog2(BEATS_PER_CHUNK);
localparam real HALF_PERIOD_NS = CLK_PERIOD_PS / 2000.0;

initial begin
    if (DATA_WIDTH < 8 || DATA_WIDTH > CHUNK_BITS || (CHUNK_BITS % DATA_WIDTH) != 0) begin
        $error("%m: DATA_WIDTH must divide %0d", CHUNK_BITS);
        $finish;
    end
    if (BEATS_PER_CHUNK < 2) begin
        $error("%m: DATA_WIDTH too wide");
        $finish;
    end
    if ((RD_SLOTS & (RD_SLOTS - 1)) != 0 || (B_DEPTH & (B_DEPTH - 1)) != 0) begin
        $error("%m: RD_SLOTS and B_DEPTH must be powers of two");
        $finish;
    end
end

// ---- random generator (xorshift32) -------------------------------------------------------
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [31:0] rnd = 32'h1234_5678;
/* verilator lint_on PROCASSINIT */
wire rnd_en = |{cfg_r_gap_prob, cfg_ar_stall, cfg_aw_stall, cfg_w_stall, cfg_b_gap_prob};
wire rnd_go = rst | rnd_en;
always @(posedge clk) if (rnd_go) begin
    if (rst) begin
        rnd <= cfg_seed == 0 ? 32'h1234_5678 : cfg_seed;
    end else begin
        rnd <= rnd ^ (rnd << 13) ^ ((rnd ^ (rnd << 13)) >> 17)
                   ^ ((rnd ^ (rnd << 13) ^ ((rnd ^ (rnd << 13)) >> 17)) << 5);
    end
end
wire [7:0] rnd_ar = rnd[7:0];
wire [7:0] rnd_aw = rnd[15:8];
wire [7:0] rnd_w  = rnd[23:16];
wire [7:0] rnd_r  = rnd[31:24];
wire [7:0] rnd_b  = rnd[19:12];

// ---- read: request to Python -------------------------------------------------------------
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [ADDR_WIDTH-1:0] rd_req_addr = 0;
reg [7:0]            rd_req_len = 0;
reg [2:0]            rd_req_size = 0;
reg [1:0]            rd_req_burst = 0;
reg [ID_WIDTH-1:0]   rd_req_id = 0;
reg [SLOT_W-1:0]     rd_req_slot = 0;
/* verilator lint_off SYNCASYNCNET */ // event counter: Python and a half-cycle-late copy watch it (event-driven, by design)
reg [31:0]           rd_req_cnt = 0;   // AR handshakes so far
/* verilator lint_on SYNCASYNCNET */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [31:0]           rd_req_seq = 0;   // rd_req_cnt, one half cycle later: Python wakes on it
/* verilator lint_on UNUSEDSIGNAL */
// written by Python only
reg [31:0]           rd_ack_seq = 0;
reg [1:0]            rd_ack_resp = 0;
reg [CHUNK_BITS-1:0] rd_buf [0:RD_SLOTS*RD_CHUNKS_PER_SLOT-1];

reg [31:0]           rd_ack_seen = 0;

// playout queue, one entry per slot, in AR order
reg [7:0]            q_len [0:RD_SLOTS-1];
reg [ID_WIDTH-1:0]   q_id [0:RD_SLOTS-1];
reg [63:0]           q_release [0:RD_SLOTS-1];
reg [1:0]            q_resp [0:RD_SLOTS-1];
reg [RD_SLOTS-1:0]   q_filled = 0;
reg [SLOT_W-1:0]     q_wr = 0;
reg [SLOT_W-1:0]     q_rd = 0;
reg [SLOT_W:0]       q_count = 0;
/* verilator lint_on PROCASSINIT */

// ready stalls: continuous, so they only cost when the generator moves
wire                 ar_stall = rnd_ar < cfg_ar_stall;

integer i;
initial begin
    for (i = 0; i < RD_SLOTS*RD_CHUNKS_PER_SLOT; i = i + 1) rd_buf[i] = 0;
    for (i = 0; i < RD_SLOTS; i = i + 1) begin
        q_len[i] = 0; q_id[i] = 0; q_release[i] = 0; q_resp[i] = 0;
    end
end

assign s_axi_arready = !rst && !ar_stall && (rd_req_cnt == rd_ack_seq) && (q_count < RD_SLOTS);
wire ar_hs = s_axi_arvalid && s_axi_arready;

// ---- read: playout -----------------------------------------------------------------------
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg                  r_valid_reg = 0;
reg [DATA_WIDTH-1:0] r_data_reg = 0;
reg [1:0]            r_resp_reg = 0;
reg                  r_last_reg = 0;
reg [ID_WIDTH-1:0]   r_id_reg = 0;
reg [7:0]            r_beat = 0;
reg [7:0]            r_gap_cnt = 0;
/* verilator lint_on PROCASSINIT */

assign s_axi_rvalid = r_valid_reg;
assign s_axi_rdata = r_data_reg;
assign s_axi_rresp = r_resp_reg;
assign s_axi_rlast = r_last_reg;
assign s_axi_rid = r_id_reg;

reg q_push, q_pop;

// Fast path of the playout: the beat on the bus is taken and the next one of the same burst
// (not its last) follows at once, with no gap knobs, no AR handshake and no answer from
// Python to take in this cycle: only the data, RLAST and the beat counter move (cycle for
// cycle what the general code below does in that case).
// r_more: the burst being played has a beat before its last still to come (set with every
// beat presented).
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg                  r_more = 0;
reg [7:0]            r_len_cur = 0;
/* verilator lint_on PROCASSINIT */
wire r_fast = r_valid_reg & s_axi_rready & r_more & ~s_axi_arvalid & (rd_ack_seq == rd_ack_seen)
            & (cfg_r_gap_fixed == 8'd0) & (cfg_r_gap_prob == 8'd0) & (r_gap_cnt == 8'd0) & ~rst;

// Idle path: no beat on the bus (so r_more is low too), no AR, no answer to take in, no gap
// counting, and the head of the queue (if any) not filled or not yet released: the general
// code below would change nothing (cycles spent waiting out the read latency).
wire r_head_go = q_filled[q_rd] & (cycle >= q_release[q_rd]);
wire r_sleep = ~r_valid_reg & ~s_axi_arvalid & (rd_ack_seq == rd_ack_seen) & (r_gap_cnt == 8'd0)
             & ~rst & ~r_head_go;

/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) begin
  if (r_fast) begin
    r_data_reg <= rd_buf[{q_rd, r_beat[7:BPC_W]}][r_beat[BPC_W-1:0]*DATA_WIDTH +: DATA_WIDTH];
    r_last_reg <= r_beat == r_len_cur;
    r_more <= r_beat + 8'd1 != r_len_cur;
    r_beat <= r_beat + 1;
  end else if (r_sleep) begin
    // nothing to do
  end else if (rst) begin
    r_more <= 1'b0;
    q_wr <= 0;
    q_rd <= 0;
    q_count <= 0;
    q_filled <= 0;
    r_valid_reg <= 1'b0;
    r_beat <= 0;
    r_gap_cnt <= 0;
    rd_ack_seen <= rd_ack_seq;  // a late answer to a request from before the reset
  end else begin
  if (s_axi_arvalid || q_count != 0 || r_valid_reg || rd_ack_seq != rd_ack_seen) begin
    q_push = 0;
    q_pop = 0;

    // AR handshake: present the request to Python
    if (ar_hs) begin
        rd_req_addr <= s_axi_araddr;
        rd_req_len <= s_axi_arlen;
        rd_req_size <= s_axi_arsize;
        rd_req_burst <= s_axi_arburst;
        rd_req_id <= s_axi_arid;
        rd_req_slot <= q_wr;
        rd_req_cnt <= rd_req_cnt + 1;
        q_len[q_wr] <= s_axi_arlen;
        q_id[q_wr] <= s_axi_arid;
        /* verilator lint_off WIDTHEXPAND */ // testbench arithmetic: the implicit extension is intended and the values fit
        q_release[q_wr] <= cycle + cfg_rd_latency;
        /* verilator lint_on WIDTHEXPAND */
        q_wr <= q_wr + 1;
        q_push = 1;
    end

    // Python filled the presented slot
    if (rd_ack_seq != rd_ack_seen) begin
        rd_ack_seen <= rd_ack_seq;
        q_resp[rd_req_slot] <= rd_ack_resp;
        q_filled[rd_req_slot] <= 1'b1;
    end

    // beats
    if (!r_valid_reg || s_axi_rready) begin
        if (q_count != 0 && q_filled[q_rd] && cycle >= q_release[q_rd] && r_gap_cnt == 0
                && rnd_r >= cfg_r_gap_prob) begin
            r_data_reg <= rd_buf[{q_rd, r_beat[7:BPC_W]}][r_beat[BPC_W-1:0]*DATA_WIDTH +: DATA_WIDTH];
            r_resp_reg <= q_resp[q_rd];
            r_id_reg <= q_id[q_rd];
            r_last_reg <= r_beat == q_len[q_rd];
            r_valid_reg <= 1'b1;
            r_gap_cnt <= cfg_r_gap_fixed;
            r_len_cur <= q_len[q_rd];
            if (r_beat == q_len[q_rd]) begin
                r_beat <= 0;
                r_more <= 1'b0;
                q_filled[q_rd] <= 1'b0;
                q_rd <= q_rd + 1;
                q_pop = 1;
            end else begin
                r_beat <= r_beat + 1;
                r_more <= r_beat + 8'd1 != q_len[q_rd];
            end
        end else begin
            r_valid_reg <= 1'b0;
            r_more <= 1'b0;
            if (r_gap_cnt != 0) r_gap_cnt <= r_gap_cnt - 1;
        end
    end

    if (q_push && !q_pop) q_count <= q_count + 1;
    else if (!q_push && q_pop) q_count <= q_count - 1;
  end
  end
end
/* verilator lint_on BLKSEQ */

// ---- write -------------------------------------------------------------------------------
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [ADDR_WIDTH-1:0] wr_req_addr = 0;
reg [7:0]            wr_req_len = 0;
reg [2:0]            wr_req_size = 0;
reg [1:0]            wr_req_burst = 0;
reg [ID_WIDTH-1:0]   wr_req_id = 0;
/* verilator lint_off SYNCASYNCNET */ // event counter: Python and a half-cycle-late copy watch it (event-driven, by design)
reg [31:0]           wr_req_cnt = 0;
/* verilator lint_on SYNCASYNCNET */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [31:0]           wr_req_seq = 0;
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [CHUNK_BITS-1:0]      wr_buf [0:WR_CHUNKS-1];
/* verilator lint_on UNUSEDSIGNAL */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [STRB_CHUNK_BITS-1:0] wr_strb_buf [0:WR_CHUNKS-1];
/* verilator lint_on UNUSEDSIGNAL */
// written by Python only
reg [31:0]           wr_ack_seq = 0;
reg [1:0]            wr_ack_resp = 0;

reg [31:0]           wr_ack_seen = 0;
reg                  w_active = 0;   // AW taken, collecting W
reg                  w_wait = 0;     // all beats in, waiting for Python
reg [7:0]            w_beat = 0;
wire                 aw_stall = rnd_aw < cfg_aw_stall;
wire                 w_stall = rnd_w < cfg_w_stall;

reg [ID_WIDTH-1:0]   b_id_mem [0:B_DEPTH-1];
reg [1:0]            b_resp_mem [0:B_DEPTH-1];
reg [63:0]           b_release_mem [0:B_DEPTH-1];
reg [B_W-1:0]        b_wr = 0;
reg [B_W-1:0]        b_rd = 0;
reg [B_W:0]          b_count = 0;
reg                  b_valid_reg = 0;
reg [ID_WIDTH-1:0]   b_id_reg = 0;
reg [1:0]            b_resp_reg = 0;
/* verilator lint_on PROCASSINIT */

initial begin
    for (i = 0; i < WR_CHUNKS; i = i + 1) begin
        wr_buf[i] = 0;
        wr_strb_buf[i] = 0;
    end
    for (i = 0; i < B_DEPTH; i = i + 1) begin
        b_id_mem[i] = 0; b_resp_mem[i] = 0; b_release_mem[i] = 0;
    end
end

assign s_axi_awready = !rst && !aw_stall && !w_active && !w_wait && (b_count < B_DEPTH);
assign s_axi_wready = !rst && !w_stall && w_active;
assign s_axi_bvalid = b_valid_reg;
assign s_axi_bid = b_id_reg;
assign s_axi_bresp = b_resp_reg;

wire aw_hs = s_axi_awvalid && s_axi_awready;
wire w_hs = s_axi_wvalid && s_axi_wready;

reg b_push, b_pop;

// continuous gate: an idle write side costs one test per cycle
wire w_go = rst | s_axi_awvalid | w_active | w_wait | (b_count != 0) | b_valid_reg
          | (wr_ack_seq != wr_ack_seen);

/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) if (w_go) begin
  if (rst) begin
    w_active <= 1'b0;
    w_wait <= 1'b0;
    w_beat <= 0;
    b_wr <= 0;
    b_rd <= 0;
    b_count <= 0;
    b_valid_reg <= 1'b0;
    wr_ack_seen <= wr_ack_seq;
  end else begin
    b_push = 0;
    b_pop = 0;

    if (aw_hs) begin
        wr_req_addr <= s_axi_awaddr;
        wr_req_len <= s_axi_awlen;
        wr_req_size <= s_axi_awsize;
        wr_req_burst <= s_axi_awburst;
        wr_req_id <= s_axi_awid;
        w_active <= 1'b1;
        w_beat <= 0;
    end

    if (w_hs) begin
        wr_buf[w_beat[7:BPC_W]][w_beat[BPC_W-1:0]*DATA_WIDTH +: DATA_WIDTH] <= s_axi_wdata;
        wr_strb_buf[w_beat[7:BPC_W]][w_beat[BPC_W-1:0]*(DATA_WIDTH/8) +: DATA_WIDTH/8] <= s_axi_wstrb;
        w_beat <= w_beat + 1;
        if (w_beat == wr_req_len) begin
            w_active <= 1'b0;
            w_wait <= 1'b1;
            wr_req_cnt <= wr_req_cnt + 1;
        end
    end

    if (wr_ack_seq != wr_ack_seen) begin
        wr_ack_seen <= wr_ack_seq;
        if (w_wait) begin
            w_wait <= 1'b0;
            b_id_mem[b_wr] <= wr_req_id;
            b_resp_mem[b_wr] <= wr_ack_resp;
            /* verilator lint_off WIDTHEXPAND */ // testbench arithmetic: the implicit extension is intended and the values fit
            b_release_mem[b_wr] <= cycle + cfg_wr_latency;
            /* verilator lint_on WIDTHEXPAND */
            b_wr <= b_wr + 1;
            b_push = 1;
        end
    end

    if (!b_valid_reg || s_axi_bready) begin
        if (b_count != 0 && cycle >= b_release_mem[b_rd] && rnd_b >= cfg_b_gap_prob) begin
            b_valid_reg <= 1'b1;
            b_id_reg <= b_id_mem[b_rd];
            b_resp_reg <= b_resp_mem[b_rd];
            b_rd <= b_rd + 1;
            b_pop = 1;
        end else begin
            b_valid_reg <= 1'b0;
        end
    end

    if (b_push && !b_pop) b_count <= b_count + 1;
    else if (!b_push && b_pop) b_count <= b_count - 1;
  end
end
/* verilator lint_on BLKSEQ */

// ---- hand-off to Python, half a cycle after the request is complete ----------------------
always @(rd_req_cnt) rd_req_seq <= #(HALF_PERIOD_NS) rd_req_cnt;
always @(wr_req_cnt) wr_req_seq <= #(HALF_PERIOD_NS) wr_req_cnt;

// every field of a request in one vector, so Python reads it with one access per wake
// (from the least significant bit: count, addr, len, size, burst, id, and for reads the
// slot). The count, not the delayed seq: the vector must already hold the new request's
// values when Python, woken by the seq's change, reads it.
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire [SLOT_W+ID_WIDTH+2+3+8+ADDR_WIDTH+32-1:0] rd_req_info =
/* verilator lint_on UNUSEDSIGNAL */
    {rd_req_slot, rd_req_id, rd_req_burst, rd_req_size, rd_req_len, rd_req_addr, rd_req_cnt};
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire [ID_WIDTH+2+3+8+ADDR_WIDTH+32-1:0] wr_req_info =
/* verilator lint_on UNUSEDSIGNAL */
    {wr_req_id, wr_req_burst, wr_req_size, wr_req_len, wr_req_addr, wr_req_cnt};

endmodule

`resetall
