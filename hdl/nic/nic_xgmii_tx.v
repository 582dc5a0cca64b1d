/*
 * hilnic -- 64-bit XGMII transmit MAC. Reads whole frames from the frame buffer
 * (store-and-forward), pads short frames (PSP), inserts the checksum at CSO,
 * appends the FCS (CRC-32 by 16-bit-indexed tables) when IFCS, and frames them:
 * start in lane 0, preamble, SFD, data, FCS, terminate, then >= 12 idle bytes.
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

    // frames: {start, len[15:0], ifcs, ic, cso[7:0], csum[15:0]}
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
    output wire [7:0]                  xgmii_txc
);

localparam BYTES = DMA_DATA_WIDTH/8;
localparam WS = $clog2(BYTES);
localparam SUBS = BYTES/8;                 // 64-bit chunks per buffer word
localparam integer SUBS_I = SUBS;
localparam [7:0] SUB_LAST = SUBS_I[7:0] - 8'd1;   // last chunk index, at the width of sub_reg

localparam [63:0] XGMII_IDLE = 64'h0707070707070707;
localparam [63:0] XGMII_PRE  = 64'hD5555555555555FB;

localparam [1:0] ST_IDLE = 2'd0, ST_PRE = 2'd1, ST_DATA = 2'd2, ST_GAP = 2'd3;
localparam [1:0] K_IDLE = 2'd0, K_PRE = 2'd1, K_DATA = 2'd2;

// CRC-32: byte tables (slice-by-8), combined at start-up into four 16-bit-indexed tables
// so a 64-bit chunk costs 4 lookups and 4 XORs. Icarus 11 evaluates XOR bit by bit (a
// 32-bit XOR costs ~4x an OR, AND or SUB), so the per-cycle path writes x ^ y as
// (x | y) - (x & y).
reg [31:0] crc_w0 [0:65535];
reg [31:0] crc_w1 [0:65535];
reg [31:0] crc_w2 [0:65535];
reg [31:0] crc_w3 [0:65535];
reg [31:0] crc_t0 [0:255];
reg [31:0] crc_t1 [0:255];
reg [31:0] crc_t2 [0:255];
reg [31:0] crc_t3 [0:255];
reg [31:0] crc_t4 [0:255];
reg [31:0] crc_t5 [0:255];
reg [31:0] crc_t6 [0:255];
reg [31:0] crc_t7 [0:255];

integer ti, tk, tj;
reg [31:0] tc;
reg [127:0] thi;
reg [127:0] tlo [0:255];
initial begin
    for (ti = 0; ti < 256; ti = ti + 1) begin
        tc = ti;
        for (tk = 0; tk < 8; tk = tk + 1) begin
            tc = tc[0] ? ((tc >> 1) ^ 32'hEDB88320) : (tc >> 1);
        end
        crc_t0[ti] = tc;
    end
    for (ti = 0; ti < 256; ti = ti + 1) begin
        /* verilator lint_off WIDTHEXPAND */ // CRC table construction kept as is (its speed work is a separate issue); 8'hff zero-extends
        crc_t1[ti] = (crc_t0[ti] >> 8) ^ crc_t0[crc_t0[ti] & 8'hff];
        crc_t2[ti] = (crc_t1[ti] >> 8) ^ crc_t0[crc_t1[ti] & 8'hff];
        crc_t3[ti] = (crc_t2[ti] >> 8) ^ crc_t0[crc_t2[ti] & 8'hff];
        crc_t4[ti] = (crc_t3[ti] >> 8) ^ crc_t0[crc_t3[ti] & 8'hff];
        crc_t5[ti] = (crc_t4[ti] >> 8) ^ crc_t0[crc_t4[ti] & 8'hff];
        crc_t6[ti] = (crc_t5[ti] >> 8) ^ crc_t0[crc_t5[ti] & 8'hff];
        crc_t7[ti] = (crc_t6[ti] >> 8) ^ crc_t0[crc_t6[ti] & 8'hff];
        /* verilator lint_on WIDTHEXPAND */
    end
    // crc_wJ[{hi, lo}] = crc_t(2J+1)[lo] ^ crc_t(2J)[hi], all four tables in one 128-bit
    // operation per index (start-up time: 64K iterations)
    for (ti = 0; ti < 256; ti = ti + 1) begin
        tlo[ti] = {crc_t7[ti], crc_t5[ti], crc_t3[ti], crc_t1[ti]};
    end
    tj = 0;
    for (tk = 0; tk < 256; tk = tk + 1) begin
        thi = {crc_t6[tk], crc_t4[tk], crc_t2[tk], crc_t0[tk]};
        for (ti = 0; ti < 256; ti = ti + 1) begin
            {crc_w3[tj], crc_w2[tj], crc_w1[tj], crc_w0[tj]} = (tlo[ti] | thi) - (tlo[ti] & thi);
            tj = tj + 1;
        end
    end
end

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [1:0]                 state_reg = ST_IDLE;
reg [2:0]                 pl_reg = 3'd0;     // pulses: {frame_sent, fb_free, in_ready}
reg [15:0]                fast_cnt_reg = 0;  // chunks left needing no padding / checksum / end handling
reg                       fast_reg = 1'b0;   // next edge: plain data chunk, stage B streaming plain data
reg [12:0]                lim_reg = 0;       // chunks before the first one that needs handling at the end

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
reg [31:0]                crc_reg = 32'hFFFFFFFF;
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
assign fb_ren = (state_reg == ST_PRE) || (state_reg == ST_DATA && sub_reg == SUB_LAST);
assign fb_raddr = raddr_reg;
assign fb_free = fb_free_reg;
assign fb_free_words = fb_free_words_reg;
assign frame_sent = sent_reg;
assign frame_bytes = sent_bytes_reg;
assign busy = state_reg != ST_IDLE || b_kind_reg != K_IDLE || spill_reg;
assign xgmii_txd = txd_reg;
assign xgmii_txc = txc_reg;

wire [FB_ADDR_WIDTH-1:0] i_start = in_data[FB_ADDR_WIDTH+41:42];
wire [15:0] i_len  = in_data[41:26];
wire        i_ifcs = in_data[25];
wire        i_ic   = in_data[24];
wire [7:0]  i_cso  = in_data[23:16];
wire [15:0] i_csum = in_data[15:0];

reg [63:0]  chunk;
reg [15:0]  left;
reg [15:0]  c1;
reg [3:0]   n;
reg [4:0]   p;
reg [31:0]  c, crc;
reg [127:0] vd;
reg [12:0]  lim;
reg [2:0]   pl;
reg [15:0]  vc;
reg [31:0]  fcs;
reg         fset;
// fast-path temporaries: Icarus loads and stores array words with constant index
// much faster than variables
reg [63:0]  tv [0:5];
integer     bi;

// activity gate: an idle block costs one test per cycle in an event-driven simulator
wire act = rst || in_valid || in_ready_reg || state_reg != ST_IDLE || b_kind_reg != K_IDLE || spill_reg || dirty_reg || fb_free_reg || sent_reg;
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg dirty_reg = 1'b0; // output not idle yet
/* verilator lint_on PROCASSINIT */
// fast path: mid-frame plain data. Stage B outputs the previous chunk (txc is already 0,
// pulses are clear, dirty_reg is 1), stage A takes the next chunk; off_reg was advanced
// past the run when fast_cnt_reg was loaded.
wire fast = fast_reg && !rst;
/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) begin
    if (fast) begin
        txd_reg <= b_data_reg;
        if (SUBS == 1) begin
            tv[0] = fb_rdata[63:0];
            raddr_reg <= raddr_reg + 1;
        end else begin
            tv[0] = fb_rdata[sub_reg*64 +: 64];
            if (sub_reg == SUB_LAST) begin
                sub_reg <= 0;
                raddr_reg <= raddr_reg + 1;
            end else begin
                sub_reg <= sub_reg + 1;
            end
        end
        // x ^ y written as (x | y) - (x & y): Icarus 11 runs XOR bit by bit, OR/AND/SUB by word
        tv[1] = {32'd0, crc_reg};
        tv[2] = {32'd0, tv[0][31:0]};
        tv[1] = (tv[1] | tv[2]) - (tv[1] & tv[2]);
        tv[2] = {32'd0, crc_w3[tv[1][15:0]]};
        tv[3] = {32'd0, crc_w2[tv[1][31:16]]};
        tv[4] = {32'd0, crc_w1[tv[0][47:32]]};
        tv[5] = {32'd0, crc_w0[tv[0][63:48]]};
        tv[2] = (tv[2] | tv[3]) - (tv[2] & tv[3]);
        tv[4] = (tv[4] | tv[5]) - (tv[4] & tv[5]);
        tv[2] = (tv[2] | tv[4]) - (tv[2] & tv[4]);
        crc_reg <= tv[2][31:0];
        b_data_reg <= tv[0];
        fast_cnt_reg <= fast_cnt_reg - 1;
        if (fast_cnt_reg == 1) begin
            fast_reg <= 1'b0;
        end
    end else if (act) begin
    dirty_reg <= b_kind_reg != K_IDLE || spill_reg;
    pl = 3'd0;

    // ---------------- stage B: to the wire ----------------
    case (b_kind_reg)
        K_PRE: begin
            txd_reg <= XGMII_PRE;
            txc_reg <= 8'h01;
        end
        K_DATA: begin
            if (!b_last_reg) begin
                txd_reg <= b_data_reg;
                txc_reg <= 8'h00;
            end else begin
                fcs = ~crc_reg;
                p = b_n_reg + (b_ifcs_reg ? 5'd4 : 5'd0);
                vd = {64'd0, b_data_reg} & ~({128{1'b1}} << (8*b_n_reg));
                if (b_ifcs_reg) begin
                    vd = vd | ({96'd0, fcs} << (8*b_n_reg));
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
                sent_bytes_reg <= b_bytes_reg;
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

    // ---------------- stage A: frame bytes ----------------
    case (state_reg)
        ST_IDLE: begin
            if (b_kind_reg != K_IDLE) begin
                b_kind_reg <= K_IDLE;
            end
            if (in_valid && !in_ready_reg && !hold) begin
                pl[0] = 1'b1;
                raddr_reg <= i_start;
                len_reg <= i_len;
                tot_reg <= (psp && i_ifcs && i_len < 60) ? 16'd60 : i_len;
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
            raddr_reg <= raddr_reg + 1;
            crc_reg <= 32'hFFFFFFFF;
            sub_reg <= 0;
            state_reg <= ST_DATA;
            // leading chunks that are plain data: fully inside the buffer, not the last
            // one, not holding checksum bytes
            lim = len_reg[15:3];
            /* verilator lint_off WIDTHTRUNC */ // a 16-bit value >> 3 fits the 13-bit chunk count
            if ((tot_reg - 1) >> 3 < lim) begin
                lim = (tot_reg - 1) >> 3;
            end
            /* verilator lint_on WIDTHTRUNC */
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
                raddr_reg <= raddr_reg + 1;
            end else begin
                sub_reg <= sub_reg + 1;
            end
            c = crc_reg ^ chunk[31:0];
            crc_reg <= crc_w3[c[15:0]] ^ crc_w2[c[31:16]] ^ crc_w1[chunk[47:32]] ^ crc_w0[chunk[63:48]];
            b_kind_reg <= K_DATA;
            b_data_reg <= chunk;
            fast_cnt_reg <= fast_cnt_reg - 1;
            // stage B sent plain data this edge (txc now 0): stream from the next edge
            fast_reg <= fast_cnt_reg != 1 && b_kind_reg == K_DATA && !b_last_reg;
        end else begin
            if (SUBS == 1) begin
                chunk = fb_rdata[63:0];
            end else begin
                chunk = fb_rdata[sub_reg*64 +: 64];
            end
            if (sub_reg == SUB_LAST) begin
                sub_reg <= 0;
                raddr_reg <= raddr_reg + 1;
            end else begin
                sub_reg <= sub_reg + 1;
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
                        fast_reg <= b_kind_reg == K_DATA && !b_last_reg;
                        fset = 1'b1;
                    end
                end
            end
            left = tot_reg - off_reg;
            crc = crc_reg;
            if (left > 8) begin
                n = 8;
                c = crc ^ chunk[31:0];
                crc = crc_w3[c[15:0]] ^ crc_w2[c[31:16]] ^ crc_w1[chunk[47:32]] ^ crc_w0[chunk[63:48]];
            end else begin
                n = left[3:0];
                if (ifcs_reg) begin
                    if (n == 8) begin
                        c = crc ^ chunk[31:0];
                        crc = crc_w3[c[15:0]] ^ crc_w2[c[31:16]] ^ crc_w1[chunk[47:32]] ^ crc_w0[chunk[63:48]];
                    end else begin
                        for (bi = 0; bi < 8; bi = bi + 1) begin
                            if (bi < n) begin
                                /* verilator lint_off WIDTHEXPAND */ // byte-wise CRC kept as is (separate issue); the byte zero-extends, & 8'hff indexes the table
                                crc = crc_t0[(crc ^ chunk[bi*8 +: 8]) & 8'hff] ^ (crc >> 8);
                                /* verilator lint_on WIDTHEXPAND */
                            end
                        end
                    end
                end
            end
            crc_reg <= crc;
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

    if (rst) begin
        state_reg <= ST_IDLE;
        b_kind_reg <= K_IDLE;
        spill_reg <= 1'b0;
        txd_reg <= XGMII_IDLE;
        txc_reg <= 8'hff;
        pl_reg <= 3'd0;
        crc_reg <= 32'hFFFFFFFF;
        fast_reg <= 1'b0;
    end
end
end
/* verilator lint_on BLKSEQ */

endmodule

`resetall
