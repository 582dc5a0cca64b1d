/*
 * hilnic -- frame assembly from descriptors: walks the fetched descriptors in ring
 * order, splits each buffer into AXI read bursts (no 4 KiB crossing, at most 256 beats
 * at any byte alignment of the buffer), and after each
 * descriptor queues an in-order marker (TDH advance, write-back, frame end with the
 * EOP descriptor's IC/CSS/CSO/IFCS and the drop reason). Reserves frame buffer space:
 * a frame is started only when a maximum-size frame fits.
 *
 * TCP segmentation (docs/nic.md section 3): a context descriptor (DEXT, DTYP 0) loads
 * the TSO context; a packet of TSE data descriptors (DEXT, DTYP 1, TSE) is cut into
 * segments of HDRLEN + MSS bytes. The header is read once more before the first
 * segment (the probe, which nic_tso_hdr keeps and patches per segment; then a rewind
 * marker) and again at the start of each segment; each segment is a frame of its own
 * (closed by a frame-only marker, the last one by the EOP descriptor's marker).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_tx_frame #
(
    // DMA address width
    /* verilator lint_off UNUSEDPARAM */ // same parameter list as the other DMA blocks; addresses are 64-bit here
    parameter DMA_ADDR_WIDTH = 64,
    /* verilator lint_on UNUSEDPARAM */
    // DMA data width
    parameter DMA_DATA_WIDTH = 128,
    // largest frame in bytes without FCS
    parameter MAX_FRAME_BYTES = 9216,
    // log2 of the frame buffer size in words
    parameter FB_ADDR_WIDTH = 11
)
(
    input  wire                       clk,
    input  wire                       rst,

    input  wire                       enable,     // not halted / draining
    input  wire [63:0]                tdba,
    input  wire [16:0]                ndesc,
    input  wire [15:0]                tdh,

    /*
     * Descriptors (show-ahead FIFO)
     */
    input  wire [127:0]               desc_data,  // nic_txd.vh
    input  wire                       desc_valid,
    output wire                       desc_ready,

    /*
     * Request to the read engine: burst or marker
     */
    output wire                       req_valid,
    input  wire                       req_ready,
    output wire                       req_marker,
    // bursts: 0 frame data, 1 TSO probe, 2 segment header, 3 segment payload;
    // markers: 0 descriptor, 1 rewind after the probe, 2 segment end (no descriptor),
    // 3 context descriptor (write-back released, no frame)
    output wire [1:0]                 req_tso,
    output wire [63:0]                req_addr,
    output wire [8:0]                 req_beats,
    output wire [7:0]                 req_lo,
    output wire [7:0]                 req_hi,
    output wire                       req_rs,
    output wire                       req_ide,
    output wire                       req_eop,
    output wire [1:0]                 req_drop,
    output wire [15:0]                req_len,
    output wire                       req_ifcs,
    output wire                       req_ic,
    output wire [7:0]                 req_css,
    output wire [7:0]                 req_cso,

    /*
     * TSO context of each packet, pushed with its probe (to nic_tso_hdr)
     */
    output wire                       tctx_valid,
    input  wire                       tctx_ready,
    output wire [7:0]                 tctx_ipcss,
    output wire [7:0]                 tctx_ipcse,
    output wire [7:0]                 tctx_tucss,
    output wire [7:0]                 tctx_hdrlen,
    output wire [15:0]                tctx_mss,
    output wire [19:0]                tctx_paylen,
    output wire                       tctx_ixsm,
    output wire                       tctx_txsm,

    /*
     * Frame buffer space returned by the MAC
     */
    input  wire                       fb_free,
    input  wire [FB_ADDR_WIDTH:0]     fb_free_words,

    // the activity gate: the next clock edge may change this block's state (nic_top's `quiet`)
    output wire                       active
);

localparam BYTES = DMA_DATA_WIDTH/8;
// 256 beats (AxLEN 255) carry 256*BYTES bytes counted from the bus word of the start
// address: a burst starting at byte lo of a word carries at most 256*BYTES - lo. Only
// the 64-bit bus (2 KiB) is below the 4 KiB page; wider buses are limited by the page.
localparam WIN = 256*BYTES;
localparam LIMIT = MAX_FRAME_BYTES + 4;   // frame data with a software FCS
localparam FB_WORDS = 1 << FB_ADDR_WIDTH;
localparam MAX_WORDS = (LIMIT + BYTES - 1) / BYTES + 1;
// room for a frame of the largest size: FB_WORDS - used >= MAX_WORDS, as used against a constant
localparam integer SPACE_LIM_I = FB_WORDS - MAX_WORDS;
localparam [FB_ADDR_WIDTH:0] SPACE_LIM = SPACE_LIM_I[FB_ADDR_WIDTH:0];
localparam integer MAXF_I = MAX_FRAME_BYTES;
localparam [16:0] MAXF = MAXF_I[16:0];   // MAX_FRAME_BYTES <= 65000 (nic_top)

`include "nic_txd.vh"
`include "nic_records.vh"

localparam [2:0] ST_IDLE = 3'd0, ST_BURST = 3'd1, ST_MARK = 3'd2, ST_TDATA = 3'd3, ST_FMARK = 3'd4, ST_BCALC = 3'd5,
                 ST_DESC = 3'd6, ST_DEC = 3'd7;

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [2:0]                 state_reg = ST_IDLE;
reg [2:0]                 next_reg = ST_IDLE;   // where ST_BURST goes when its run is issued
reg                       init_reg = 1'b1;
reg [15:0]                idx_reg = 0;
reg                       in_frame_reg = 1'b0;
reg [16:0]                total_reg = 0;
reg                       long_reg = 1'b0;
reg [FB_ADDR_WIDTH:0]     used_reg = 0;
// room for a frame of the largest size, registered with used_reg: the decisions do not wait for
// this cycle's fb_free_words subtraction and a compare (a frame freed now counts a cycle later)
reg                       space_reg = 1'b1;
// a marker was presented last cycle: its frame's words are counted now, whether or not it is
// accepted yet (space is consulted only after it is), so `used` does not wait for req_ready
reg                       mk_new_reg = 1'b0;
reg [FB_ADDR_WIDTH:0]     mk_words_reg = 0;     // its words, from the length it was presented with
reg [63:0]                bad_addr_reg = 0;     // ERRADDR of the frame's bad descriptor

/* verilator lint_off UNUSEDSIGNAL */ // STA (byte 12) is never read; the upper POPTS bits are reserved
reg [127:0]               desc_reg = 0;         // the FIFO's head, registered in ST_IDLE
/* verilator lint_on UNUSEDSIGNAL */
reg [63:0]                run_addr_reg = 0;     // the run of bursts being issued
reg [19:0]                run_rem_reg = 0;
reg                       desc_ready_reg = 1'b0;
// ST_DEC: the descriptor's tests that need a carry chain, registered for ST_DESC's decision
reg [16:0]                dec_total_reg = 0;    // total_reg + the descriptor's length
reg                       dec_long_reg = 1'b0;  // the frame is (now) too long
reg                       dec_zero_reg = 1'b0;  // length 0
reg                       dec_tbad_reg = 1'b0;  // a TSE data descriptor: no usable context, or shorter than HDRLEN
reg                       dec_cok_reg = 1'b0;   // c_ok of a context descriptor
reg                       dec_clong_reg = 1'b0; // c_long, likewise
reg                       dec_ctx_reg = 1'b0;   // d_ctx (decoded a cycle early, for ST_DESC's decision)
reg                       dec_tdata_reg = 1'b0; // d_tdata, likewise

reg                       req_valid_reg = 1'b0;
reg                       req_marker_reg = 1'b0;
reg [1:0]                 req_tso_reg = 0;
reg [63:0]                req_addr_reg = 0;
reg [8:0]                 req_beats_reg = 0;
reg [7:0]                 req_lo_reg = 0;
reg [7:0]                 req_hi_reg = 0;
reg [12:0]                req_blen_reg = 0;
reg                       req_rs_reg = 1'b0;
reg                       req_ide_reg = 1'b0;
reg                       req_eop_reg = 1'b0;
reg [1:0]                 req_drop_reg = 0;
reg [15:0]                req_len_reg = 0;
reg                       req_ifcs_reg = 1'b0;
reg                       req_ic_reg = 1'b0;
reg [7:0]                 req_css_reg = 0;
reg [7:0]                 req_cso_reg = 0;

// TSO context: the last context descriptor, checked when it is loaded
reg                       ctx_valid_reg = 1'b0;
reg                       ctx_ok_reg = 1'b0;    // a TSO context this NIC can segment with
reg                       ctx_long_reg = 1'b0;  // HDRLEN + MSS > MAX_FRAME_BYTES
reg [7:0]                 ctx_ipcss_reg = 0;
reg [7:0]                 ctx_ipcse_reg = 0;
reg [7:0]                 ctx_tucss_reg = 0;
reg [7:0]                 ctx_hdrlen_reg = 0;
reg [15:0]                ctx_mss_reg = 0;
reg [19:0]                ctx_paylen_reg = 0;

// TSO packet in progress
reg                       tso_reg = 1'b0;
reg                       tbad_reg = 1'b0;      // bad: nothing more is read, dropped at its end
reg [1:0]                 tbad_drop_reg = 0;
reg                       end_here_reg = 1'b0;  // a descriptor that does not belong ends it
reg                       txsm_reg = 1'b0;
reg [63:0]                hdr_addr_reg = 0;
reg [63:0]                cur_addr_reg = 0;     // the descriptor's data not yet issued
reg [19:0]                rem_reg = 0;
reg [19:0]                pay_rem_reg = 0;      // PAYLEN bytes not yet given to a segment
reg                       seg_open_reg = 1'b0;  // a segment's header has been issued
reg [15:0]                seg_rem_reg = 0;      // payload bytes the open segment still needs
reg [15:0]                seg_len_reg = 0;      // HDRLEN + its payload
reg                       fkind_rewind_reg = 1'b0; // ST_FMARK: rewind (1) or segment end (0)

reg                       tctx_valid_reg = 1'b0;
reg                       tctx_ixsm_reg = 1'b0;
/* verilator lint_on PROCASSINIT */

assign desc_ready = desc_ready_reg;
assign req_valid = req_valid_reg;
assign req_marker = req_marker_reg;
assign req_tso = req_tso_reg;
assign req_addr = req_addr_reg;
assign req_beats = req_beats_reg;
assign req_lo = req_lo_reg;
assign req_hi = req_hi_reg;
assign req_rs = req_rs_reg;
assign req_ide = req_ide_reg;
assign req_eop = req_eop_reg;
assign req_drop = req_drop_reg;
assign req_len = req_len_reg;
assign req_ifcs = req_ifcs_reg;
assign req_ic = req_ic_reg;
assign req_css = req_css_reg;
assign req_cso = req_cso_reg;

assign tctx_valid = tctx_valid_reg;
assign tctx_ipcss = ctx_ipcss_reg;
assign tctx_ipcse = ctx_ipcse_reg;
assign tctx_tucss = ctx_tucss_reg;
assign tctx_hdrlen = ctx_hdrlen_reg;
assign tctx_mss = ctx_mss_reg;
assign tctx_paylen = ctx_paylen_reg;
assign tctx_ixsm = tctx_ixsm_reg;
assign tctx_txsm = txsm_reg;

// descriptor fields (of desc_reg: the decisions below start from a register, not from the
// FIFO's LUT RAM read): legacy (docs/nic.md section 3)
wire [63:0] d_addr = desc_reg[TXD_ADDR_LSB +: TXD_ADDR_W];
wire [15:0] d_len  = desc_reg[TXD_LEN_LSB +: TXD_LEN_W];
wire [7:0]  d_cso  = desc_reg[TXD_CSO_LSB +: TXD_CSO_W];
/* verilator lint_off UNUSEDSIGNAL */ // CMD.VLE is not implemented (hdl/nic/README.md)
wire [7:0]  d_cmd  = desc_reg[TXD_CMD_LSB +: TXD_CMD_W];
/* verilator lint_on UNUSEDSIGNAL */
wire [7:0]  d_css  = desc_reg[TXD_CSS_LSB +: TXD_CSS_W];
// extended (DEXT): DTYP; a TSE data descriptor's 20-bit length and POPTS
wire [3:0]  d_dtyp  = desc_reg[TXD_DTYP_LSB +: TXD_DTYP_W];
wire [19:0] d_len20 = desc_reg[TXD_DTALEN_LSB +: TXD_DTALEN_W];
wire [7:0]  d_popts = desc_reg[TXD_POPTS_LSB +: TXD_POPTS_W];
wire        d_ctx   = d_cmd[TXD_CMD_DEXT] && d_dtyp == TXD_DTYP_CTX;
wire        d_tdata = d_cmd[TXD_CMD_DEXT] && d_dtyp == TXD_DTYP_DATA && d_cmd[TXD_CMD_TSE];
wire [63:0] d_ring_addr = tdba + {44'd0, idx_reg, 4'b0000};
// context descriptor fields
wire [7:0]  c_ipcss  = desc_reg[TXC_IPCSS_LSB +: TXC_IPCSS_W];
wire [7:0]  c_ipcso  = desc_reg[TXC_IPCSO_LSB +: TXC_IPCSO_W];
wire [15:0] c_ipcse  = desc_reg[TXC_IPCSE_LSB +: TXC_IPCSE_W];
wire [7:0]  c_tucss  = desc_reg[TXC_TUCSS_LSB +: TXC_TUCSS_W];
wire [7:0]  c_tucso  = desc_reg[TXC_TUCSO_LSB +: TXC_TUCSO_W];
wire [15:0] c_tucse  = desc_reg[TXC_TUCSE_LSB +: TXC_TUCSE_W];
wire [19:0] c_paylen = desc_reg[TXC_PAYLEN_LSB +: TXC_PAYLEN_W];
wire [7:0]  c_hdrlen = desc_reg[TXC_HDRLEN_LSB +: TXC_HDRLEN_W];
wire [15:0] c_mss    = desc_reg[TXC_MSS_LSB +: TXC_MSS_W];
// A context this NIC segments with: TSE, IPv4, TCP; MSS and PAYLEN not 0; an IPv4 header of
// at least 20 bytes [IPCSS, IPCSE] before the TCP header at TUCSS, its checksum at IPCSS + 10;
// the TCP checksum at TUCSS + 16 and summed to the end (TUCSE 0); a 20-byte TCP header
// inside HDRLEN. nic_tso_hdr relies on these positions (and on HDRLEN >= 40 > the bus width).
wire        c_ok = d_cmd[TXC_CMD_TSE] && d_cmd[TXC_CMD_IP] && d_cmd[TXC_CMD_TCP] && c_mss != 16'd0
                   && c_paylen != 20'd0 && c_tucse == 16'd0
                   && {1'b0, c_ipcss} + 9'd20 <= {1'b0, c_tucss}
                   && c_ipcse >= {8'd0, c_ipcss} + 16'd19 && c_ipcse < {8'd0, c_tucss}
                   && {1'b0, c_ipcso} == {1'b0, c_ipcss} + 9'd10
                   && {1'b0, c_tucso} == {1'b0, c_tucss} + 9'd16
                   && {1'b0, c_tucss} + 9'd20 <= {1'b0, c_hdrlen};
wire        c_long = {9'd0, c_hdrlen} + {1'b0, c_mss} > MAXF;

reg [16:0]             new_total;
reg [12:0]             room;
reg [8:0]              room_beats;
reg [7:0]              lo;
reg                    use_win;
reg [13:0]             rem_end;
reg                    rem_lt;
reg [FB_ADDR_WIDTH:0]  used;
reg [16:0]             idx_next;
reg                    too_long;
reg                    eop;
reg [15:0]             sp;
reg [19:0]             n20;
reg [20:0]             ca;

// compute the burst of [a, a+rem) starting at a: at most to the end of the 4 KiB page and of
// 256 beats, at most rem bytes. The three limits and their beat counts are formed side by side
// and one is picked: one short carry chain deep (the run registers -> the req_* registers).
task set_burst;
    input [63:0] a;
    input [19:0] rem;
    begin
        /* verilator lint_off WIDTHEXPAND */ /* verilator lint_off WIDTHTRUNC */ // offsets < BYTES, lengths <= 4096, beats <= 256
        lo = a % BYTES;
        // 256 beats end before the page when WIN - lo < 4096 - a[11:0] (only on the 64-bit
        // bus: WIN 2 KiB)
        use_win = (WIN < 4096) && ({1'b0, a[11:0]} - lo < 13'd4096 - WIN);
        if (use_win) begin
            room = WIN - lo;           // its bursts end on a bus word: (lo + room) % BYTES = 0
            room_beats = 9'd256;
        end else begin
            room = 13'd4096 - {1'b0, a[11:0]};
            room_beats = (13'd4096 - ({1'b0, a[11:0]} - lo)) / BYTES;
        end
        // rem < room, from sums that do not wait for room
        rem_end = {1'b0, rem[12:0]} + lo;
        rem_lt = rem[19:13] == 7'd0
                 && (use_win ? rem_end < WIN : {1'b0, rem[12:0]} + {2'd0, a[11:0]} < 14'd4096);
        req_addr_reg <= a;
        if (rem_lt) begin
            req_blen_reg <= rem[12:0];
            req_hi_reg <= rem_end % BYTES;
            req_beats_reg <= (rem_end + BYTES - 1) / BYTES;
        end else begin
            req_blen_reg <= room;
            req_hi_reg <= 8'd0;
            req_beats_reg <= room_beats;
        end
        req_lo_reg <= lo;
        /* verilator lint_on WIDTHEXPAND */ /* verilator lint_on WIDTHTRUNC */
    end
endtask

// start a run of bursts over [a, a+len) of kind k; ST_BURST then goes to `nxt`. Each burst
// is computed in ST_BCALC from the run registers: the descriptor FIFO's read and the run's
// address arithmetic stay out of the burst split's path (a cycle per burst).
task start_run;
    input [63:0] a;
    input [19:0] len;
    input [1:0]  k;
    input [2:0]  nxt;
    begin
        run_addr_reg <= a;
        run_rem_reg <= len;
        req_tso_reg <= k;
        req_marker_reg <= 1'b0;
        next_reg <= nxt;
        state_reg <= ST_BCALC;
    end
endtask

// activity gate: an idle block costs one test per cycle in an event-driven simulator.
// ST_TDATA waiting for buffer space to open a segment (a TSO packet's usual state: the
// buffer full of segments) is idle too: only fb_free (or reset) moves it on.
// The reset is applied after the gated code, not through the gate (for the clock: the datapath
// reset would reach every register's enable through it).
wire space_ok = space_reg;
wire tdata_wait = state_reg == ST_TDATA && !seg_open_reg && rem_reg != 0 && !space_ok;
wire act = fb_free || desc_ready_reg || init_reg || tctx_valid_reg
           || (state_reg == ST_IDLE ? desc_valid && enable && (in_frame_reg || space_ok) : !tdata_wait);
assign active = act || rst;

/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) begin
    if (act) begin
    desc_ready_reg <= 1'b0;
    tctx_valid_reg <= 1'b0;
    used = used_reg;
    if (fb_free) begin
        used = used - fb_free_words;
    end
    mk_new_reg <= 1'b0;
    if (mk_new_reg && req_eop_reg && req_drop_reg == DROP_NONE) begin
        /* verilator lint_off WIDTHEXPAND */ /* verilator lint_off WIDTHTRUNC */ // a frame's words fit the buffer (space checked when it was opened)
        used = used + mk_words_reg;
        /* verilator lint_on WIDTHEXPAND */ /* verilator lint_on WIDTHTRUNC */
    end

    case (state_reg)
        ST_IDLE: begin
            if (init_reg) begin
                idx_reg <= tdh;
                init_reg <= 1'b0;
            end else if (desc_valid && !desc_ready_reg && enable && (in_frame_reg || (space_ok && tctx_ready))) begin
                desc_reg <= desc_data;
                state_reg <= ST_DEC;
            end
        end
        ST_DEC: begin
            new_total = total_reg + d_len;
            dec_total_reg <= new_total;
            dec_long_reg <= long_reg || new_total > LIMIT;
            dec_zero_reg <= d_len == 0;
            dec_tbad_reg <= !ctx_valid_reg || !ctx_ok_reg || d_len20 < {12'd0, ctx_hdrlen_reg};
            dec_cok_reg <= c_ok;
            dec_clong_reg <= c_long;
            dec_ctx_reg <= d_ctx;
            dec_tdata_reg <= d_tdata;
            state_reg <= ST_DESC;
        end
        ST_DESC: begin
            // the descriptor admitted in ST_IDLE (space checked there: it only grows since)
            if (tso_reg) begin
                // inside a TSO packet: TSE data descriptors continue it; anything else
                // ends it as a bad frame, unread
                if (!dec_tdata_reg) begin
                    if (!tbad_reg) begin
                        tbad_reg <= 1'b1;
                        tbad_drop_reg <= DROP_DEXT;
                        bad_addr_reg <= d_ring_addr;
                    end
                    end_here_reg <= 1'b1;
                    state_reg <= ST_MARK;
                end else if (tbad_reg) begin
                    state_reg <= ST_MARK;
                end else begin
                    cur_addr_reg <= d_addr;
                    rem_reg <= d_len20;
                    state_reg <= ST_TDATA;
                end
            end else if (dec_ctx_reg && !in_frame_reg) begin
                // context descriptor: no data, no frame
                ctx_valid_reg <= 1'b1;
                ctx_ok_reg <= dec_cok_reg;
                ctx_long_reg <= dec_clong_reg;
                ctx_ipcss_reg <= c_ipcss;
                ctx_ipcse_reg <= c_ipcse[7:0];
                ctx_tucss_reg <= c_tucss;
                ctx_hdrlen_reg <= c_hdrlen;
                ctx_mss_reg <= c_mss;
                ctx_paylen_reg <= c_paylen;
                state_reg <= ST_MARK;
            end else if (dec_tdata_reg && !in_frame_reg) begin
                // first descriptor of a TSO packet: the header must be in its buffer
                in_frame_reg <= 1'b1;
                tso_reg <= 1'b1;
                end_here_reg <= 1'b0;
                seg_open_reg <= 1'b0;
                txsm_reg <= d_popts[TXD_POPTS_TXSM];
                if (dec_tbad_reg) begin
                    tbad_reg <= 1'b1;
                    tbad_drop_reg <= DROP_DEXT;
                    bad_addr_reg <= d_ring_addr;
                    state_reg <= ST_MARK;
                end else if (ctx_long_reg) begin
                    tbad_reg <= 1'b1;
                    tbad_drop_reg <= DROP_LONG;
                    state_reg <= ST_MARK;
                end else begin
                    tbad_reg <= 1'b0;
                    hdr_addr_reg <= d_addr;
                    cur_addr_reg <= d_addr + {56'd0, ctx_hdrlen_reg};
                    rem_reg <= d_len20 - {12'd0, ctx_hdrlen_reg};
                    pay_rem_reg <= ctx_paylen_reg;
                    tctx_valid_reg <= 1'b1;
                    tctx_ixsm_reg <= d_popts[TXD_POPTS_IXSM];
                    fkind_rewind_reg <= 1'b1;
                    start_run(d_addr, {12'd0, ctx_hdrlen_reg}, BURST_PROBE, ST_FMARK);
                end
            end else begin
                in_frame_reg <= 1'b1;
                if (d_cmd[TXD_CMD_DEXT]) begin
                    // DEXT that is not a context or TSE descriptor outside a frame:
                    // a bad descriptor ends the frame, no data read
                    bad_addr_reg <= d_ring_addr;
                    state_reg <= ST_MARK;
                end else if (dec_long_reg) begin
                    long_reg <= 1'b1;
                    state_reg <= ST_MARK;
                end else if (dec_zero_reg) begin
                    state_reg <= ST_MARK;
                end else begin
                    total_reg <= dec_total_reg;
                    start_run(d_addr, {4'd0, d_len}, BURST_DATA, ST_MARK);
                end
            end
        end
        ST_BCALC: begin
            set_burst(run_addr_reg, run_rem_reg);
            req_valid_reg <= 1'b1;
            state_reg <= ST_BURST;
        end
        ST_BURST: begin
            if (req_ready) begin
                req_valid_reg <= 1'b0;
                if (run_rem_reg == {7'd0, req_blen_reg}) begin
                    state_reg <= next_reg;
                end else begin
                    run_addr_reg <= run_addr_reg + {51'd0, req_blen_reg};
                    run_rem_reg <= run_rem_reg - {7'd0, req_blen_reg};
                    state_reg <= ST_BCALC;
                end
            end
        end
        ST_TDATA: begin
            // TSO: the next step over the current descriptor's data
            if (seg_open_reg && seg_rem_reg == 0 && pay_rem_reg != 0) begin
                // a full segment that is not the last: end its frame
                seg_open_reg <= 1'b0;
                fkind_rewind_reg <= 1'b0;
                state_reg <= ST_FMARK;
            end else if (rem_reg == 0) begin
                state_reg <= ST_MARK;
            end else if (seg_open_reg && seg_rem_reg == 0) begin
                // more data than HDRLEN + PAYLEN: the rest is not read, the last segment is dropped
                tbad_reg <= 1'b1;
                tbad_drop_reg <= DROP_DEXT;
                bad_addr_reg <= d_ring_addr;
                state_reg <= ST_MARK;
            end else if (!seg_open_reg) begin
                if (space_ok) begin
                    // open a segment: its header first
                    sp = (pay_rem_reg > {4'd0, ctx_mss_reg}) ? ctx_mss_reg : pay_rem_reg[15:0];
                    seg_rem_reg <= sp;
                    seg_len_reg <= {8'd0, ctx_hdrlen_reg} + sp;
                    pay_rem_reg <= pay_rem_reg - {4'd0, sp};
                    seg_open_reg <= 1'b1;
                    start_run(hdr_addr_reg, {12'd0, ctx_hdrlen_reg}, BURST_HDR, ST_TDATA);
                end
            end else begin
                // payload into the open segment
                n20 = (rem_reg > {4'd0, seg_rem_reg}) ? {4'd0, seg_rem_reg} : rem_reg;
                // the address + n20 as a 20-bit add whose carry picks the upper bits or those
                // + 1 (for the clock: no 64-bit carry chain after the min)
                ca = {1'b0, cur_addr_reg[19:0]} + {1'b0, n20};
                cur_addr_reg <= {ca[20] ? cur_addr_reg[63:20] + 44'd1 : cur_addr_reg[63:20], ca[19:0]};
                rem_reg <= rem_reg - n20;
                seg_rem_reg <= seg_rem_reg - n20[15:0];
                start_run(cur_addr_reg, n20, BURST_PAY, ST_TDATA);
            end
        end
        ST_FMARK: begin
            // frame-only marker: the rewind after the probe, or the end of a segment
            if (!req_valid_reg) begin
                req_valid_reg <= 1'b1;
                req_marker_reg <= 1'b1;
                mk_new_reg <= 1'b1;
                /* verilator lint_off WIDTHEXPAND */ /* verilator lint_off WIDTHTRUNC */ // a frame's words fit the buffer
                mk_words_reg <= (seg_len_reg + BYTES - 1) / BYTES;
                /* verilator lint_on WIDTHEXPAND */ /* verilator lint_on WIDTHTRUNC */
                req_tso_reg <= fkind_rewind_reg ? MARK_REWIND : MARK_SEG;
                req_rs_reg <= 1'b0;
                req_ide_reg <= 1'b0;
                req_eop_reg <= !fkind_rewind_reg;
                req_drop_reg <= DROP_NONE;
                req_len_reg <= seg_len_reg;
                req_ifcs_reg <= 1'b1;
                req_ic_reg <= txsm_reg;
                req_css_reg <= ctx_tucss_reg;
                req_cso_reg <= ctx_tucss_reg + 8'd16;
            end else if (req_ready) begin
                req_valid_reg <= 1'b0;
                req_marker_reg <= 1'b0;
                state_reg <= ST_TDATA;
            end
        end
        ST_MARK: begin
            if (!req_valid_reg) begin
                // present the descriptor's marker
                req_valid_reg <= 1'b1;
                req_marker_reg <= 1'b1;
                mk_new_reg <= 1'b1;
                /* verilator lint_off WIDTHEXPAND */ /* verilator lint_off WIDTHTRUNC */ // a frame's words fit the buffer
                mk_words_reg <= ((tso_reg ? seg_len_reg : total_reg[15:0]) + BYTES - 1) / BYTES;
                /* verilator lint_on WIDTHEXPAND */ /* verilator lint_on WIDTHTRUNC */
                req_addr_reg <= bad_addr_reg;
                req_rs_reg <= d_cmd[TXD_CMD_RS] | d_cmd[TXD_CMD_RPS];
                req_ide_reg <= d_cmd[TXD_CMD_IDE];
                if (tso_reg) begin
                    // TSO: the EOP descriptor (or one that does not belong) ends the last segment
                    eop = d_cmd[TXD_CMD_EOP] || end_here_reg;
                    req_tso_reg <= MARK_DESC;
                    req_eop_reg <= eop;
                    req_len_reg <= seg_len_reg;
                    req_ifcs_reg <= 1'b1;
                    req_ic_reg <= txsm_reg;
                    req_css_reg <= ctx_tucss_reg;
                    req_cso_reg <= ctx_tucss_reg + 8'd16;
                    if (!eop) begin
                        req_drop_reg <= DROP_NONE;
                    end else if (tbad_reg) begin
                        req_drop_reg <= tbad_drop_reg;
                    end else if (seg_open_reg && seg_rem_reg == 0 && pay_rem_reg == 0) begin
                        req_drop_reg <= DROP_NONE;
                    end else begin
                        // less data than HDRLEN + PAYLEN
                        req_drop_reg <= DROP_DEXT;
                        req_addr_reg <= d_ring_addr;
                    end
                end else if (!in_frame_reg) begin
                    // context descriptor
                    req_tso_reg <= MARK_CTX;
                    req_eop_reg <= 1'b0;
                    req_drop_reg <= DROP_NONE;
                end else begin
                    req_tso_reg <= MARK_DESC;
                    req_eop_reg <= d_cmd[TXD_CMD_EOP] | d_cmd[TXD_CMD_DEXT];
                    req_len_reg <= total_reg[15:0];
                    req_ifcs_reg <= d_cmd[TXD_CMD_IFCS];
                    req_ic_reg <= d_cmd[TXD_CMD_IC];
                    req_css_reg <= d_css;
                    req_cso_reg <= d_cso;
                    if (d_cmd[TXD_CMD_EOP] | d_cmd[TXD_CMD_DEXT]) begin
                        too_long = long_reg || (d_cmd[TXD_CMD_IFCS] && total_reg > MAX_FRAME_BYTES);
                        if (d_cmd[TXD_CMD_DEXT]) begin
                            req_drop_reg <= DROP_DEXT;
                        end else if (too_long) begin
                            req_drop_reg <= DROP_LONG;
                        end else if (total_reg == 0) begin
                            req_drop_reg <= DROP_ZERO;
                        end else begin
                            req_drop_reg <= DROP_NONE;
                        end
                    end else begin
                        req_drop_reg <= DROP_NONE;
                    end
                end
            end else if (req_ready) begin
                req_valid_reg <= 1'b0;
                req_marker_reg <= 1'b0;
                desc_ready_reg <= 1'b1;
                idx_next = idx_reg + 1;
                if (idx_next >= ndesc) begin
                    idx_next = 0;
                end
                idx_reg <= idx_next[15:0];
                if (req_eop_reg) begin
                    in_frame_reg <= 1'b0;
                    total_reg <= 0;
                    long_reg <= 1'b0;
                    tso_reg <= 1'b0;
                    tbad_reg <= 1'b0;
                    end_here_reg <= 1'b0;
                    seg_open_reg <= 1'b0;
                end
                state_reg <= ST_IDLE;
            end
        end
        default: state_reg <= ST_IDLE;
    endcase
    used_reg <= used;
    space_reg <= used <= SPACE_LIM;
    end

    if (rst) begin
        state_reg <= ST_IDLE;
        init_reg <= 1'b1;
        idx_reg <= 0;
        in_frame_reg <= 1'b0;
        total_reg <= 0;
        long_reg <= 1'b0;
        used_reg <= 0;
        space_reg <= 1'b1;
        mk_new_reg <= 1'b0;
        desc_ready_reg <= 1'b0;
        req_valid_reg <= 1'b0;
        req_marker_reg <= 1'b0;
        ctx_valid_reg <= 1'b0;
        tso_reg <= 1'b0;
        tbad_reg <= 1'b0;
        end_here_reg <= 1'b0;
        seg_open_reg <= 1'b0;
        tctx_valid_reg <= 1'b0;
    end
end
/* verilator lint_on BLKSEQ */

endmodule

`resetall
