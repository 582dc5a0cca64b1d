/*
 * hilnic -- 64-bit XGMII transmit MAC. Reads whole frames from the frame buffer
 * (store-and-forward), pads short frames (PSP), inserts the checksum at CSO,
 * appends the FCS (nic_crc32) when IFCS, and frames them: start in lane 0, preamble,
 * SFD, data, FCS, terminate, then >= 12 idle bytes.
 *
 * The frame buffer's port B is a registered read (a word two edges after its read), so
 * stage A reads ahead: the first word when it takes the frame (address from the record),
 * the second in ST_PRE (64-bit words), then each word WIDTH/64 - 1 cycles before the
 * chunks of the previous one run out (every cycle at 64 bits).
 *
 * Stage A reads the frame buffer and builds 64-bit chunks (b_*); nic_crc32 takes them a
 * cycle later and has the FCS 4 edges after the last one, so the chunks reach stage B (the
 * wire) through a 4-deep delay line (q*: data, f*: flags) that lines the last chunk up with
 * its FCS.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_xgmii_tx #
(
    // frame buffer word width
    parameter DMA_DATA_WIDTH = 128,
    // log2 of the frame buffer size in words
    parameter FB_ADDR_WIDTH = 11
)
(
    input  wire                        clk,
    input  wire                        rst,

    input  wire                        hold,       // do not start a new frame
    input  wire                        psp,        // pad short frames to 60 bytes

    // frames: the FT_* record of nic_records.vh
    input  wire [FB_ADDR_WIDTH+41:0]   in_data,
    input  wire                        in_valid,
    output wire                        in_ready,

    // frame buffer read port
    output wire                        fb_ren,
    output wire [FB_ADDR_WIDTH-1:0]    fb_raddr,
    input  wire [DMA_DATA_WIDTH-1:0]   fb_rdata,

    // frame buffer space released
    output wire                        fb_free,
    output wire [FB_ADDR_WIDTH:0]      fb_free_words,

    // a frame left the MAC
    output wire                        frame_sent,
    output wire [15:0]                 frame_bytes,

    output wire                        busy,

    output wire [63:0]                 xgmii_txd,
    output wire [7:0]                  xgmii_txc,

    // the activity gate: the next clock edge may change this block's state, its CRC's included (nic_top's `quiet`)
    output wire                        active
);

localparam BYTES = DMA_DATA_WIDTH/8;
localparam WS = $clog2(BYTES);
localparam SUBS = BYTES/8;                 // 64-bit chunks per buffer word
localparam integer SUBS_I = SUBS;
localparam [7:0] SUB_LAST = SUBS_I[7:0] - 8'd1;   // last chunk index, at the width of sub_reg
// chunk index at which stage A reads the next word: it arrives as that index wraps to 0
localparam [7:0] SUB_RD = SUBS_I == 1 ? 8'd0 : SUB_LAST - 8'd1;

localparam [63:0] XGMII_IDLE = 64'h0707070707070707;
localparam [63:0] XGMII_PRE  = 64'hD5555555555555FB;

localparam [1:0] ST_IDLE = 2'd0, ST_PRE = 2'd1, ST_DATA = 2'd2, ST_GAP = 2'd3;
localparam [1:0] K_IDLE = 2'd0, K_PRE = 2'd1, K_DATA = 2'd2;

`include "nic_records.vh"

// flags of a chunk in the delay line: {kind, last, n, ifcs, bytes}
localparam LF_BYTES_LSB = 0, LF_BYTES_W = 16;  // frame bytes on the wire (stage B's count)
localparam LF_IFCS_BIT  = 16;                  // the FCS follows the data
localparam LF_N_LSB     = 17, LF_N_W = 4;      // data bytes in the chunk (last chunk)
localparam LF_LAST_BIT  = 21;                  // last data chunk of the frame
localparam LF_KIND_LSB  = 22, LF_KIND_W = 2;   // K_*
localparam LF_W         = 24;
localparam LF_KL_LSB    = LF_LAST_BIT;         // {kind, last}: adjacent, compared as one

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [1:0]                 state_reg = ST_IDLE;
reg [2:0]                 pl_reg = 3'd0;     // pulses: {frame_sent, fb_free, in_ready}
reg [15:0]                fast_cnt_reg = 0;  // chunks left needing no padding / checksum / end handling
reg                       fast_reg = 1'b0;   // next edge: plain data chunk, stage B streaming plain data
reg [12:0]                lim_reg = 0;       // chunks before the first one that needs handling at the end
reg [12:0]                lim0_reg = 0;      // the same, computed when the frame is taken (for the clock: ST_PRE is short)

reg [FB_ADDR_WIDTH-1:0]   raddr_reg = 0;
reg [15:0]                len_reg = 0;       // data bytes in the buffer
reg [15:0]                tot_reg = 0;       // data + pad
reg                       ifcs_reg = 1'b0;
reg                       ic_reg = 1'b0;
reg [15:0]                cso_reg = 0;
reg [15:0]                csum_reg = 0;
reg [15:0]                off_reg = 0;       // offset of the next chunk not covered by fast_cnt_reg
reg [7:0]                 sub_reg = 0;
reg [1:0]                 gap_reg = 0;

// stage B
reg [1:0]                 b_kind_reg = K_IDLE;
reg [63:0]                b_data_reg = 0;
reg [3:0]                 b_n_reg = 0;
reg                       b_last_reg = 1'b0;
reg                       b_ifcs_reg = 1'b0;
reg [15:0]                b_bytes_reg = 0;
// delay line between stage A (b_*) and stage B: q* data, f* flags (LF_*)
reg [63:0]                q0_reg = 0, q1_reg = 0, q2_reg = 0, q3_reg = 0;
reg [LF_W-1:0]            f0_reg = 0, f1_reg = 0, f2_reg = 0, f3_reg = 0;
reg                       spill_reg = 1'b0;
reg [63:0]                spill_d_reg = 0;
reg [7:0]                 spill_c_reg = 0;

reg [63:0]                txd_reg = XGMII_IDLE;
reg [7:0]                 txc_reg = 8'hff;

reg [FB_ADDR_WIDTH:0]     fb_free_words_reg = 0;
reg [15:0]                sent_bytes_reg = 0;
/* verilator lint_on PROCASSINIT */

wire in_ready_reg = pl_reg[0];
wire fb_free_reg = pl_reg[1];
wire sent_reg = pl_reg[2];
assign in_ready = in_ready_reg;
wire [FB_ADDR_WIDTH-1:0] i_start = in_data[FT_START_LSB +: FB_ADDR_WIDTH];
// stage A takes a frame (ST_IDLE) at this edge
wire take = state_reg == ST_IDLE && in_valid && !in_ready_reg && !hold;
assign fb_ren = take || (SUBS == 1 && state_reg == ST_PRE) || (state_reg == ST_DATA && sub_reg == SUB_RD);
assign fb_raddr = state_reg == ST_IDLE ? i_start : raddr_reg;
assign fb_free = fb_free_reg;
assign fb_free_words = fb_free_words_reg;
assign frame_sent = sent_reg;
assign frame_bytes = sent_bytes_reg;
assign xgmii_txd = txd_reg;
assign xgmii_txc = txc_reg;

wire [15:0] i_len  = in_data[FT_LEN_LSB +: FT_LEN_W];
wire        i_ifcs = in_data[FT_IFCS_BIT];
wire        i_ic   = in_data[FT_IC_BIT];
wire [7:0]  i_cso  = in_data[FT_CSO_LSB +: FT_CSO_W];
wire [15:0] i_csum = in_data[FT_CSUM_LSB +: FT_CSUM_W];

// stage B's chunk: the end of the delay line
wire [1:0]  o_kind  = f3_reg[LF_KIND_LSB +: LF_KIND_W];
wire        o_last  = f3_reg[LF_LAST_BIT];
wire [3:0]  o_n     = f3_reg[LF_N_LSB +: LF_N_W];
wire        o_ifcs  = f3_reg[LF_IFCS_BIT];
wire [15:0] o_bytes = f3_reg[LF_BYTES_LSB +: LF_BYTES_W];
wire        line_busy = f0_reg[LF_KIND_LSB +: LF_KIND_W] != K_IDLE || f1_reg[LF_KIND_LSB +: LF_KIND_W] != K_IDLE
                        || f2_reg[LF_KIND_LSB +: LF_KIND_W] != K_IDLE || f3_reg[LF_KIND_LSB +: LF_KIND_W] != K_IDLE;
// plain data (not the last chunk) everywhere from stage A's output to stage B: the fast path
// may take over from the next edge
localparam [2:0] PLAIN = {K_DATA, 1'b0};
wire        all_plain = b_kind_reg == K_DATA && !b_last_reg && f0_reg[LF_KL_LSB +: 3] == PLAIN
                        && f1_reg[LF_KL_LSB +: 3] == PLAIN && f2_reg[LF_KL_LSB +: 3] == PLAIN
                        && f3_reg[LF_KL_LSB +: 3] == PLAIN;

assign busy = state_reg != ST_IDLE || b_kind_reg != K_IDLE || line_busy || spill_reg;

// FCS of the chunks stage A produced (b_*), 4 edges after the last one
wire [31:0] crc_fcs;
wire        crc_busy;
nic_crc32 crc_inst (
    .clk(clk),
    .rst(rst),
    .start(b_kind_reg == K_PRE),
    .pad(3'd0 - tot_reg[2:0]),
    .in_valid(b_kind_reg == K_DATA),
    .in_last(b_last_reg),
    .in_data(b_data_reg),
    .fcs(crc_fcs),
    .busy(crc_busy)
);

reg [63:0]  chunk;
reg [15:0]  left;
reg [15:0]  c1;
reg [3:0]   n;
reg [4:0]   p;
reg [127:0] vd;
reg [12:0]  lim;
reg [2:0]   pl;
reg [15:0]  vc;
reg [31:0]  fcs;
reg         fset;

// activity gate: an idle block costs one test per cycle in an event-driven simulator. The
// reset is applied after the gated code, not through the gate (for the clock: the datapath
// reset would reach every register's enable through it)
wire act = in_valid || in_ready_reg || state_reg != ST_IDLE || b_kind_reg != K_IDLE || line_busy || crc_busy
           || spill_reg || dirty_reg || fb_free_reg || sent_reg;
assign active = act || rst;
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg dirty_reg = 1'b0; // output not idle yet
/* verilator lint_on PROCASSINIT */
// fast path: mid-frame plain data. Stage B outputs the delay line's chunk (txc is already
// 0, pulses are clear, dirty_reg is 1, every flag in the line says plain data and stays so),
// stage A takes the next chunk; off_reg was advanced past the run when fast_cnt_reg was loaded.
wire fast = fast_reg;
/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) begin
    if (fast) begin
        txd_reg <= q3_reg;
        q3_reg <= q2_reg;
        q2_reg <= q1_reg;
        q1_reg <= q0_reg;
        q0_reg <= b_data_reg;
        if (SUBS == 1) begin
            b_data_reg <= fb_rdata[63:0];
            raddr_reg <= raddr_reg + 1;
        end else begin
            b_data_reg <= fb_rdata[sub_reg*64 +: 64];
            if (sub_reg == SUB_LAST) begin
                sub_reg <= 0;
            end else begin
                sub_reg <= sub_reg + 1;
            end
            if (sub_reg == SUB_RD) begin
                raddr_reg <= raddr_reg + 1;
            end
        end
        fast_cnt_reg <= fast_cnt_reg - 1;
        if (fast_cnt_reg == 1) begin
            fast_reg <= 1'b0;
        end
    end else if (act) begin
    dirty_reg <= o_kind != K_IDLE || spill_reg;
    pl = 3'd0;

    // ---------------- stage B: to the wire ----------------
    case (o_kind)
        K_PRE: begin
            txd_reg <= XGMII_PRE;
            txc_reg <= 8'h01;
        end
        K_DATA: begin
            if (!o_last) begin
                txd_reg <= q3_reg;
                txc_reg <= 8'h00;
            end else begin
                // an empty frame's FCS is that of no bytes (nic_crc32 saw a word)
                fcs = o_n == 4'd0 ? 32'd0 : crc_fcs;
                p = {1'b0, o_n} + (o_ifcs ? 5'd4 : 5'd0);
                vd = {64'd0, q3_reg} & ~({128{1'b1}} << (8*o_n));
                if (o_ifcs) begin
                    vd = vd | ({96'd0, fcs} << (8*o_n));
                end
                vd = vd | ({120'd0, 8'hFD} << (8*p));
                vd = vd | ({XGMII_IDLE, XGMII_IDLE} & ({128{1'b1}} << (8*(p+1))));
                vc = 16'hFFFF << p;
                txd_reg <= vd[63:0];
                txc_reg <= vc[7:0];
                spill_reg <= 1'b1;
                spill_d_reg <= vd[127:64];
                spill_c_reg <= vc[15:8];
                pl[2] = 1'b1;
                sent_bytes_reg <= o_bytes;
            end
        end
        default: begin
            if (spill_reg) begin
                txd_reg <= spill_d_reg;
                txc_reg <= spill_c_reg;
                spill_reg <= 1'b0;
            end else begin
                txd_reg <= XGMII_IDLE;
                txc_reg <= 8'hff;
            end
        end
    endcase

    // ---------------- delay line ----------------
    q3_reg <= q2_reg;
    q2_reg <= q1_reg;
    q1_reg <= q0_reg;
    q0_reg <= b_data_reg;
    f3_reg <= f2_reg;
    f2_reg <= f1_reg;
    f1_reg <= f0_reg;
    f0_reg <= {b_kind_reg, b_last_reg, b_n_reg, b_ifcs_reg, b_bytes_reg};  // LF_* order

    // ---------------- stage A: frame bytes ----------------
    case (state_reg)
        ST_IDLE: begin
            if (b_kind_reg != K_IDLE) begin
                b_kind_reg <= K_IDLE;
            end
            if (take) begin
                pl[0] = 1'b1;
                raddr_reg <= i_start + 1;
                len_reg <= i_len;
                tot_reg <= (psp && i_ifcs && i_len < 60) ? 16'd60 : i_len;
                // chunks fully inside the buffer and not the last one: min(len / 8, (tot - 1) / 8),
                // where tot = 60 > len (padded) or tot = len
                if ((psp && i_ifcs && i_len < 60) || i_len == 16'd0) begin
                    lim0_reg <= i_len[15:3];
                end else begin
                    lim0_reg <= i_len[15:3] - {12'd0, i_len[2:0] == 3'd0};
                end
                ifcs_reg <= i_ifcs;
                ic_reg <= i_ic;
                cso_reg <= {8'd0, i_cso};
                csum_reg <= i_csum;
                state_reg <= ST_PRE;
            end
        end
        ST_PRE: begin
            b_kind_reg <= K_PRE;
            b_last_reg <= 1'b0;
            if (SUBS == 1) begin
                raddr_reg <= raddr_reg + 1;
            end
            sub_reg <= 0;
            state_reg <= ST_DATA;
            // leading chunks that are plain data: fully inside the buffer, not the last
            // one, not holding checksum bytes
            lim = lim0_reg;
            lim_reg <= lim;
            if (ic_reg && cso_reg[15:3] < lim) begin
                lim = cso_reg[15:3];
            end
            fast_cnt_reg <= {3'd0, lim};
            off_reg <= {lim, 3'd0};
        end
        ST_DATA: if (fast_cnt_reg != 0) begin
            // fast path: plain data chunk
            if (SUBS == 1) begin
                chunk = fb_rdata[63:0];
            end else begin
                chunk = fb_rdata[sub_reg*64 +: 64];
            end
            if (sub_reg == SUB_LAST) begin
                sub_reg <= 0;
            end else begin
                sub_reg <= sub_reg + 1;
            end
            if (sub_reg == SUB_RD) begin
                raddr_reg <= raddr_reg + 1;
            end
            b_kind_reg <= K_DATA;
            b_data_reg <= chunk;
            fast_cnt_reg <= fast_cnt_reg - 1;
            // stage B sent plain data this edge (txc now 0) and only plain data follows it:
            // stream from the next edge
            fast_reg <= fast_cnt_reg != 1 && all_plain;
        end else begin
            if (SUBS == 1) begin
                chunk = fb_rdata[63:0];
            end else begin
                chunk = fb_rdata[sub_reg*64 +: 64];
            end
            if (sub_reg == SUB_LAST) begin
                sub_reg <= 0;
            end else begin
                sub_reg <= sub_reg + 1;
            end
            if (sub_reg == SUB_RD) begin
                raddr_reg <= raddr_reg + 1;
            end
            // bytes beyond the data are padding
            if (off_reg >= len_reg) begin
                chunk = 64'd0;
            end else if (len_reg - off_reg < 8) begin
                chunk = chunk & ~({64{1'b1}} << (8*(len_reg - off_reg)));
            end
            // checksum insertion (big-endian at CSO); a plain run may follow
            fset = 1'b0;
            if (ic_reg) begin
                if (cso_reg[15:3] == off_reg[15:3]) begin
                    chunk[cso_reg[2:0]*8 +: 8] = csum_reg[15:8];
                end
                c1 = cso_reg + 1;
                if (c1[15:3] == off_reg[15:3]) begin
                    chunk[c1[2:0]*8 +: 8] = csum_reg[7:0];
                    if ({3'd0, lim_reg} > {3'd0, off_reg[15:3]} + 16'd1) begin
                        fast_cnt_reg <= {3'd0, lim_reg} - {3'd0, off_reg[15:3]} - 16'd1;
                        fast_reg <= all_plain;
                        fset = 1'b1;
                    end
                end
            end
            left = tot_reg - off_reg;
            if (left > 8) begin
                n = 8;
            end else begin
                n = left[3:0];
            end
            b_kind_reg <= K_DATA;
            b_data_reg <= chunk;
            b_n_reg <= n;
            b_ifcs_reg <= ifcs_reg;
            off_reg <= fset ? {lim_reg, 3'd0} : off_reg + 8;
            if (left <= 8) begin
                b_last_reg <= 1'b1;
                b_bytes_reg <= tot_reg + (ifcs_reg ? 16'd4 : 16'd0);
                pl[1] = 1'b1;
                /* verilator lint_off WIDTHTRUNC */ /* verilator lint_off WIDTHEXPAND */ // a frame's words fit the frame buffer's word count (integer arithmetic)
                fb_free_words_reg <= (len_reg + BYTES - 1) >> WS;
                /* verilator lint_on WIDTHTRUNC */ /* verilator lint_on WIDTHEXPAND */
                // terminate in lane p = n (+4 with FCS) of a 16-lane window; the idle
                // bytes after it must reach 12 before the next start
                p = {1'b0, n} + (ifcs_reg ? 5'd4 : 5'd0);
                if (p >= 12) begin
                    gap_reg <= 1;
                    state_reg <= ST_GAP;
                end else if (p >= 4) begin
                    gap_reg <= 0;
                    state_reg <= ST_GAP;
                end else begin
                    state_reg <= ST_IDLE;
                end
            end else begin
                b_last_reg <= 1'b0;
            end
        end
        default: begin
            // ST_GAP
            b_kind_reg <= K_IDLE;
            if (gap_reg == 0) begin
                state_reg <= ST_IDLE;
            end
            gap_reg <= gap_reg - 1;
        end
    endcase

    pl_reg <= pl;
    end

    if (rst) begin
        state_reg <= ST_IDLE;
        b_kind_reg <= K_IDLE;
        spill_reg <= 1'b0;
        txd_reg <= XGMII_IDLE;
        txc_reg <= 8'hff;
        pl_reg <= 3'd0;
        f0_reg <= 0;
        f1_reg <= 0;
        f2_reg <= 0;
        f3_reg <= 0;
        fast_reg <= 1'b0;
    end
end
/* verilator lint_on BLKSEQ */

endmodule

`resetall
