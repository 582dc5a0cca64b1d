/*
 * hilnic -- DMA read engine. Issues AXI4 INCR read bursts for the descriptor fetcher
 * and the frame assembler (one ARID, so data returns in order), keeps an in-order tag
 * queue of bursts and markers, and processes the R channel: descriptor beats go to the
 * descriptor FIFO, data beats are realigned into a byte stream and written into the
 * frame buffer, markers advance TDH, queue write-backs and close frames.
 *
 * TSO (nic_tx_frame): each burst carries its kind (frame data, probe, segment header,
 * segment payload), latched per burst and passed on with every frame-buffer write
 * (fb_wmode, with the frame's start fb_wfs) to nic_tso_hdr; the first beat of a probe or
 * header burst waits while nic_tso_hdr prepares the header (tso_hold). Markers: a
 * descriptor's, the rewind after a probe (the frame restarts at its first word), a
 * segment end (a frame without a descriptor) and a context descriptor's (TDH, write-back
 * released, no frame).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_dma_rd #
(
    // DMA address width
    parameter DMA_ADDR_WIDTH = 64,
    // DMA data width
    parameter DMA_DATA_WIDTH = 128,
    // AXI ID width
    parameter DMA_ID_WIDTH = 4,
    // log2 of the frame buffer size in words
    parameter FB_ADDR_WIDTH = 11,
    // log2 of the tag queue depth (bursts and markers in flight)
    parameter TAG_LOG2 = 6
)
(
    input  wire                          clk,
    input  wire                          rst,

    input  wire                          stop,        // issue nothing new
    input  wire                          discard,     // sink all data and markers
    input  wire                          wb_full,     // write-back queue cannot take a marker

    /*
     * Descriptor fetch requests
     */
    input  wire                          dreq_valid,
    output wire                          dreq_ready,
    input  wire [DMA_ADDR_WIDTH-1:0]     dreq_addr,
    input  wire [8:0]                    dreq_beats,
    input  wire [8:0]                    dreq_count,

    /*
     * Data requests and markers
     */
    input  wire                          treq_valid,
    output wire                          treq_ready,
    input  wire                          treq_marker,
    input  wire [1:0]                    treq_tso,     // burst or marker kind (nic_tx_frame)
    input  wire [63:0]                   treq_addr,
    input  wire [8:0]                    treq_beats,
    /* verilator lint_off UNUSEDSIGNAL */ // byte offsets < BYTES: the low SIZE bits are used
    input  wire [7:0]                    treq_lo,
    input  wire [7:0]                    treq_hi,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                          treq_rs,
    input  wire                          treq_ide,
    input  wire                          treq_eop,
    input  wire [1:0]                    treq_drop,
    input  wire [15:0]                   treq_len,
    input  wire                          treq_ifcs,
    input  wire                          treq_ic,
    input  wire [7:0]                    treq_css,
    input  wire [7:0]                    treq_cso,

    /*
     * AXI4 read master
     */
    output wire [DMA_ID_WIDTH-1:0]       m_axi_arid,
    output wire [DMA_ADDR_WIDTH-1:0]     m_axi_araddr,
    output wire [7:0]                    m_axi_arlen,
    output wire [2:0]                    m_axi_arsize,
    output wire [1:0]                    m_axi_arburst,
    output wire                          m_axi_arlock,
    output wire [3:0]                    m_axi_arcache,
    output wire [2:0]                    m_axi_arprot,
    output wire                          m_axi_arvalid,
    input  wire                          m_axi_arready,
    /* verilator lint_off UNUSEDSIGNAL */ // one ARID (0), responses in order; bursts are counted in beats, RLAST is not needed
    input  wire [DMA_ID_WIDTH-1:0]       m_axi_rid,
    input  wire [DMA_DATA_WIDTH-1:0]     m_axi_rdata,
    input  wire [1:0]                    m_axi_rresp,
    input  wire                          m_axi_rlast,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                          m_axi_rvalid,
    output wire                          m_axi_rready,

    /*
     * Descriptors out (space guaranteed by the fetcher's credits)
     */
    output wire [127:0]                  desc_out,
    output wire                          desc_out_valid,

    /*
     * Frame buffer write port
     */
    output wire                          fb_we,
    output wire [FB_ADDR_WIDTH-1:0]      fb_waddr,
    output wire [DMA_DATA_WIDTH-1:0]     fb_wdata,
    output wire [1:0]                    fb_wmode,     // kind of the burst that wrote the word
    output wire [FB_ADDR_WIDTH-1:0]      fb_wfs,       // first word of that word's frame
    input  wire                          tso_hold,     // nic_tso_hdr is preparing a header

    /*
     * Completed frames: the FR_* record of nic_records.vh
     */
    output wire [FB_ADDR_WIDTH+33:0]     frame_out,
    output wire                          frame_out_valid,
    input  wire                          frame_out_ready,

    /*
     * Events
     */
    output wire                          ev_tdh_inc,
    output wire                          ev_wb_push,   // a descriptor finished (idx = TDH)
    output wire                          ev_wb_rs,
    output wire                          ev_wb_ide,
    output wire                          ev_wb_commit, // its frame is complete
    output wire                          ev_rd_err,
    output wire [63:0]                   ev_rd_err_addr,
    output wire                          ev_too_long,
    output wire                          ev_dext,
    output wire [63:0]                   ev_dext_addr,
    output wire                          ev_zero,

    output wire                          idle,         // no read outstanding on the bus

    // the activity gate: the next clock edge may change this block's state or its frame FIFO's (nic_top's `quiet`)
    output wire                          active
);

localparam BYTES = DMA_DATA_WIDTH/8;
localparam integer SIZE_I = $clog2(BYTES);
localparam [2:0] SIZE = SIZE_I[2:0];     // AxSIZE
localparam integer BYTES_I = BYTES;
// byte counters at their least width: offsets s, fill_reg < BYTES (SIZE_I bits), counts n <= BYTES
// (SIZE_I+1 bits); narrow adds and shift amounts keep the R path short
localparam [SIZE_I:0] BYTESN = BYTES_I[SIZE_I:0];
localparam DPB = (BYTES >= 16) ? BYTES/16 : 1;      // descriptors per beat
localparam TAG_DEPTH = 1 << TAG_LOG2;

localparam [1:0] K_DESC = 2'd0, K_DATA = 2'd1, K_MARK = 2'd2;

`include "nic_records.vh"

// ---------------- tag queue (separate arrays per field) ----------------
// no_rw_check: an entry is never read in the cycle it is written (the head is refilled only
// from a non-empty queue, nothing is written into a full one), so synthesis needs no
// write-to-read bypass around the RAM
(* no_rw_check *) reg [1:0] tq_kind [0:TAG_DEPTH-1];
(* no_rw_check *) reg [63:0] tq_addr [0:TAG_DEPTH-1];
// beat counts precomputed at intake, off the R path's critical path (LUT RAM read -> compare):
(* no_rw_check *) reg [8:0] tq_blast [0:TAG_DEPTH-1];   // bursts: beats - 1 (index of the last beat)
(* no_rw_check *) reg [8:0] tq_mid [0:TAG_DEPTH-1];   // data bursts: middle beats, max(beats - 2, 0)
(* no_rw_check *) reg [8:0] tq_cnt [0:TAG_DEPTH-1];
(* no_rw_check *) reg [SIZE_I-1:0] tq_lo [0:TAG_DEPTH-1];
// data bursts: bytes of the first beat and of the last beat (when it is another), from
// lo/hi at intake: the R path adds them to fill_reg without a subtraction first
(* no_rw_check *) reg [SIZE_I:0] tq_nf [0:TAG_DEPTH-1];
(* no_rw_check *) reg [SIZE_I:0] tq_nl [0:TAG_DEPTH-1];
(* no_rw_check *) reg [MK_W-1:0] tq_mark [0:TAG_DEPTH-1];   // markers and bursts' kind: MK_* of nic_records.vh

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [TAG_LOG2:0] tq_wr_reg = 0;
reg [TAG_LOG2:0] tq_rd_reg = 0;

// the head entry is a register copy (hd_*), loaded from the arrays at tq_rd_reg: the R path
// starts from flip-flops, not from a 64-deep LUT RAM read. The arrays hold TAG_DEPTH entries
// besides it.
// empty and full as flip-flops (from the next pointers): the request handshakes and the head
// refill start from a register, not from a compare of the pointers (which also address the arrays)
reg  tq_empty_reg = 1'b1;
reg  tq_full_reg = 1'b0;
wire tq_empty = tq_empty_reg;   // no entry besides the head
wire tq_full = tq_full_reg;

reg            hd_valid_reg = 1'b0;
reg [1:0]      hd_kind_reg = 0;
reg [63:0]     hd_addr_reg = 0;
reg [8:0]      hd_blast_reg = 0;
reg [8:0]      hd_mid_reg = 0;
reg [8:0]      hd_cnt_reg = 0;
reg [SIZE_I-1:0] hd_lo_reg = 0;
reg [SIZE_I:0] hd_nf_reg = 0;
reg [SIZE_I:0] hd_nl_reg = 0;
reg            hd_single_reg = 1'b0;   // a one-beat burst (blast 0)
reg            hd_midnz_reg = 1'b0;    // mid != 0
reg            hd_hgate_reg = 1'b0;    // a probe or segment-header burst (its first beat may wait)
// a marker's waits, decoded at refill: a frame end that needs room in the frame queue; one
// that needs none in the write-back queue (a segment end)
reg            hd_fqneed_reg = 1'b0;
reg            hd_nowb_reg = 1'b0;
reg [MK_W-1:0] hd_mark_reg = 0;

wire [1:0] head_kind = hd_kind_reg;

// ---------------- AR channel ----------------
reg                       ar_valid_reg = 1'b0;
reg [DMA_ADDR_WIDTH-1:0]  ar_addr_reg = 0;
reg [7:0]                 ar_len_reg = 0;
reg [15:0]                outstanding_reg = 0;   // bursts issued and not finished
/* verilator lint_on PROCASSINIT */

assign m_axi_arid = {DMA_ID_WIDTH{1'b0}};
assign m_axi_araddr = ar_addr_reg;
assign m_axi_arlen = ar_len_reg;
assign m_axi_arsize = SIZE;
assign m_axi_arburst = 2'b01;
assign m_axi_arlock = 1'b0;
assign m_axi_arcache = 4'b0011;
assign m_axi_arprot = 3'b010;
assign m_axi_arvalid = ar_valid_reg;

wire ar_free = !ar_valid_reg || m_axi_arready;
assign dreq_ready = !stop && !tq_full && ar_free;
assign treq_ready = !stop && !tq_full && !dreq_valid && (treq_marker || ar_free);

// ---------------- R processing state ----------------
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [8:0]                 beat_cnt_reg = 0;
reg [8:0]                 mid_cnt_reg = 0;    // middle beats (all bytes valid, not last) left in this data burst
// flags for the R path instead of 9-bit compares: beat_cnt_reg == 0, mid_cnt_reg != 0
reg                       first_reg = 1'b1;
reg                       midnz_reg = 1'b0;
reg [8:0]                 d_cnt_reg = 0;      // descriptors done in this desc burst
reg [63:0]                d_half_reg = 0;     // 64-bit bus: first half of a descriptor
reg                       err_reg = 1'b0;     // read error seen: discard until reset

reg [DMA_DATA_WIDTH-1:0]  acc_reg = 0;
reg [SIZE_I-1:0]          fill_reg = 0;
reg [FB_ADDR_WIDTH-1:0]   wptr_reg = 0;
reg [FB_ADDR_WIDTH-1:0]   fstart_reg = 0;
reg [1:0]                 wmode_reg = 0;      // kind of the data burst being written
reg [FB_ADDR_WIDTH-1:0]   wfs_reg = 0;        // fstart_reg of the word being written

reg [8:0]                 pl_reg = 9'd0;   // one-cycle pulses, cleared together
wire fb_we_reg = pl_reg[0];
wire desc_out_valid_reg = pl_reg[1];
wire fq_push_reg = pl_reg[2];
wire ev_tdh_inc_reg = pl_reg[3];
wire ev_wb_push_reg = pl_reg[4];
wire ev_rd_err_reg = pl_reg[5];
wire ev_too_long_reg = pl_reg[6];
wire ev_dext_reg = pl_reg[7];
wire ev_zero_reg = pl_reg[8];
reg [FB_ADDR_WIDTH-1:0]   fb_waddr_reg = 0;
reg [DMA_DATA_WIDTH-1:0]  fb_wdata_reg = 0;

reg [127:0]               desc_out_reg = 0;

reg                       ev_wb_rs_reg = 1'b0;
reg                       ev_wb_ide_reg = 1'b0;
reg                       ev_wb_commit_reg = 1'b0;
reg [63:0]                ev_rd_err_addr_reg = 0;
reg [63:0]                ev_dext_addr_reg = 0;
/* verilator lint_on PROCASSINIT */

assign fb_we = fb_we_reg;
assign fb_waddr = fb_waddr_reg;
assign fb_wdata = fb_wdata_reg;
assign fb_wmode = wmode_reg;
assign fb_wfs = wfs_reg;
assign desc_out = desc_out_reg;
assign desc_out_valid = desc_out_valid_reg;
assign ev_tdh_inc = ev_tdh_inc_reg;
assign ev_wb_push = ev_wb_push_reg;
assign ev_wb_rs = ev_wb_rs_reg;
assign ev_wb_ide = ev_wb_ide_reg;
assign ev_wb_commit = ev_wb_commit_reg;
assign ev_rd_err = ev_rd_err_reg;
assign ev_rd_err_addr = ev_rd_err_addr_reg;
assign ev_too_long = ev_too_long_reg;
assign ev_dext = ev_dext_reg;
assign ev_dext_addr = ev_dext_addr_reg;
assign ev_zero = ev_zero_reg;

assign idle = !ar_valid_reg && outstanding_reg == 0;

// completed frame queue
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [FR_W-1:0]            fq_data_reg = 0;
/* verilator lint_on PROCASSINIT */
/* verilator lint_off UNUSEDSIGNAL */ // pushes are guarded by fq_room (fq_count), which keeps space for the frames in flight
wire                      fq_in_ready;
/* verilator lint_on UNUSEDSIGNAL */
wire [4:0]                fq_count;
wire                      fq_active;

nic_fifo #(
    .WIDTH(FR_W),
    .DEPTH_LOG2(4)
)
frame_fifo_inst (
    .clk(clk),
    .rst(rst),
    .in_data(fq_data_reg),
    .in_valid(fq_push_reg),
    .in_ready(fq_in_ready),
    .out_data(frame_out),
    .out_valid(frame_out_valid),
    .out_ready(frame_out_ready),
    .count(fq_count),
    .active(fq_active)
);

// room for a frame, counting one push that may be in the register: a flip-flop (for the
// clock: it gates the marker pop, which reaches the head refill's enables), so computed a
// cycle ahead with a push assumed in the next cycle as well. Pops only add room, and no push
// comes while this block is idle, so a value held over idle cycles errs on the safe side.
/* verilator lint_off PROCASSINIT */ // power-up value: simulation starts from it before the first reset (both simulators)
reg  fq_room_reg = 1'b1;
/* verilator lint_on PROCASSINIT */
wire fq_room = fq_room_reg;
wire fq_room_n = fq_push_reg ? fq_count < 5'd13 : fq_count < 5'd14;

// rready: a burst is at the head; for descriptor beats on wide buses hold the beat
// until all its descriptors are pushed
wire [8:0] head_cnt = hd_cnt_reg;
wire [5:0] head_dpos = hd_addr_reg[9:4];
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg r_take = 1'b0;  // initial value: Icarus does not run always @* at time 0
/* verilator lint_on PROCASSINIT */
// the first beat of a probe or segment-header burst waits while nic_tso_hdr prepares the
// header, and for one cycle after any write (it may be the one that starts the preparation)
wire r_gate = hd_hgate_reg && first_reg && (tso_hold || fb_we_reg);
always @* begin
    r_take = 1'b0;
    if (hd_valid_reg) begin
        if (head_kind == K_DATA) begin
            r_take = !r_gate;
        end else if (head_kind == K_DESC) begin
            if (DPB == 1) begin
                r_take = 1'b1;
            end else begin
                /* verilator lint_off WIDTHEXPAND */ // integer (32-bit) arithmetic on the descriptor position, no overflow
                r_take = (((head_dpos + d_cnt_reg) % DPB) == DPB-1) || (d_cnt_reg == head_cnt - 1);
                /* verilator lint_on WIDTHEXPAND */
            end
        end
    end
end
assign m_axi_rready = r_take;

reg [TAG_LOG2-1:0]        rp;
reg [2*DMA_DATA_WIDTH-1:0] comb;
reg [DMA_DATA_WIDTH-1:0]  sh;
reg [SIZE_I-1:0]          s;
reg [SIZE_I:0]            n;
reg [SIZE_I:0]            fsum;   // fill_reg + n < 2*BYTES: its top bit says a word is complete
reg                       pop;
reg                       last;
reg [8:0]                 pl;
reg [255:0]               rdx;
reg [MK_W-1:0]            mk;
reg [MK_DROP_W-1:0]       mk_drop;
reg [MK_TSO_W-1:0]        mk_tso;
reg [15:0]                outst;
reg [5:0]                 dpos;
reg [TAG_LOG2-1:0]        wp;
reg [TAG_LOG2:0]          tq_wr_n, tq_rd_n;   // the next pointers

// activity gate: an idle block costs one test per cycle in an event-driven simulator. The
// reset is applied after the gated code, not through the gate (for the clock: the datapath
// reset would reach every register's enable through it)
wire act_main = dreq_valid || treq_valid || ar_valid_reg || (!hd_valid_reg && !tq_empty)
                || (hd_valid_reg && (m_axi_rvalid || head_kind == K_MARK));
wire act = act_main || pulse_reg;
assign active = act || rst || fq_active;
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg pulse_reg = 1'b0; // some output pulse is high and must be cleared
/* verilator lint_on PROCASSINIT */
// a data burst's last beat ends at byte hi of its word (0: the whole word)
wire [SIZE_I:0] nl = (treq_hi[SIZE_I-1:0] != 0) ? {1'b0, treq_hi[SIZE_I-1:0]} : BYTESN;
// request intake or AR handshake pending
wire intake = dreq_valid || treq_valid || ar_valid_reg;
// fast path: a middle beat of a data burst (full width, not first or last, OKAY)
wire r_mid = m_axi_rvalid && midnz_reg && m_axi_rresp == 2'b00;
// the middle beat's shifts (written in the clocked block, so Icarus evaluates the wide shifts
// only on a middle beat, not on every change of rdata): the stream continues at byte fill_reg;
// the beat's top fill_reg bytes carry over
/* verilator lint_off WIDTHEXPAND */ // BYTES - fill_reg in SIZE_I+1 bits
wire [SIZE_I:0] fill_c = BYTESN - fill_reg;
/* verilator lint_on WIDTHEXPAND */
// ... with no request intake: only the beat itself (the general code would do the same)
wire r_fast = r_mid && !intake;
/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) begin
    if (r_fast) begin
        pulse_reg <= 1'b1;
        pl_reg <= 9'd1;
        fq_room_reg <= fq_room_n;
        fb_waddr_reg <= wptr_reg;
        fb_wdata_reg <= acc_reg | (m_axi_rdata << {fill_reg, 3'b000});
        wptr_reg <= wptr_reg + 1;
        acc_reg <= m_axi_rdata >> {fill_c, 3'b000};
        beat_cnt_reg <= beat_cnt_reg + 1;
        mid_cnt_reg <= mid_cnt_reg - 1;
        midnz_reg <= mid_cnt_reg != 9'd1;
        first_reg <= 1'b0;
    end else if (act) begin
    pulse_reg <= act_main;
    pl = 9'd0;
    wfs_reg <= fstart_reg;

    outst = outstanding_reg;
    tq_wr_n = tq_wr_reg;
    tq_rd_n = tq_rd_reg;

    // ---- request intake ----
    if (intake) begin
    wp = tq_wr_reg[TAG_LOG2-1:0];
    if (dreq_valid && dreq_ready) begin
        tq_kind[wp] <= K_DESC;
        tq_addr[wp] <= dreq_addr;
        tq_blast[wp] <= dreq_beats - 9'd1;
        tq_cnt[wp] <= dreq_count;
        tq_wr_n = tq_wr_reg + 1;
        ar_valid_reg <= 1'b1;
        ar_addr_reg <= dreq_addr;
        ar_len_reg <= dreq_beats[7:0] - 8'd1;
    end else if (treq_valid && treq_ready) begin
        tq_kind[wp] <= treq_marker ? K_MARK : K_DATA;
        tq_addr[wp] <= treq_addr;
        tq_blast[wp] <= treq_beats - 9'd1;
        tq_mid[wp] <= (treq_beats > 9'd2) ? treq_beats - 9'd2 : 9'd0;
        tq_lo[wp] <= treq_lo[SIZE_I-1:0];
        tq_nl[wp] <= nl;
        /* verilator lint_off WIDTHEXPAND */ // lo < BYTES
        tq_nf[wp] <= (treq_beats == 9'd1) ? nl - treq_lo[SIZE_I-1:0] : BYTESN - treq_lo[SIZE_I-1:0];
        /* verilator lint_on WIDTHEXPAND */
        tq_mark[wp] <= mk_rec(treq_tso, treq_rs, treq_ide, treq_eop, treq_drop, treq_len, treq_ifcs, treq_ic, treq_css,
                              treq_cso);
        tq_wr_n = tq_wr_reg + 1;
        if (!treq_marker) begin
            ar_valid_reg <= 1'b1;
            ar_addr_reg <= treq_addr[DMA_ADDR_WIDTH-1:0];
            ar_len_reg <= treq_beats[7:0] - 8'd1;
        end else if (m_axi_arready) begin
            ar_valid_reg <= 1'b0;
        end
    end else if (m_axi_arready) begin
        ar_valid_reg <= 1'b0;
    end
    if (ar_valid_reg && m_axi_arready) begin
        outst = outst + 1;
    end
    end

    // ---- R channel / markers ----
    pop = 1'b0;
    if (r_mid) begin
        // the stream continues at byte fill_reg of the word being assembled
        pl[0] = 1'b1;
        fb_waddr_reg <= wptr_reg;
        fb_wdata_reg <= acc_reg | (m_axi_rdata << {fill_reg, 3'b000});
        wptr_reg <= wptr_reg + 1;
        acc_reg <= m_axi_rdata >> {fill_c, 3'b000};
        beat_cnt_reg <= beat_cnt_reg + 1;
        mid_cnt_reg <= mid_cnt_reg - 1;
        midnz_reg <= mid_cnt_reg != 9'd1;
        first_reg <= 1'b0;
    end else if (hd_valid_reg) begin
        case (head_kind)
            K_DESC: begin
                if (m_axi_rvalid) begin
                    if (m_axi_rresp != 2'b00 && !err_reg && !discard) begin
                        err_reg <= 1'b1;
                        pl[5] = 1'b1;
                        ev_rd_err_addr_reg <= hd_addr_reg;
                    end
                    if (BYTES == 8) begin
                        // two beats per descriptor
                        if (beat_cnt_reg[0] == 1'b0) begin
                            d_half_reg <= m_axi_rdata[63:0];
                        end else begin
                            desc_out_reg <= {m_axi_rdata[63:0], d_half_reg};
                            pl[1] = !err_reg && !discard && m_axi_rresp == 2'b00;
                        end
                        beat_cnt_reg <= beat_cnt_reg + 1;
                        first_reg <= 1'b0;
                        if (beat_cnt_reg == hd_blast_reg) begin
                            pop = 1'b1;
                        end
                    end else begin
                        /* verilator lint_off WIDTHEXPAND */ /* verilator lint_off WIDTHTRUNC */ // integer arithmetic; the result is < DPB <= 2
                        dpos = (hd_addr_reg[9:4] + d_cnt_reg) % DPB;
                        /* verilator lint_on WIDTHEXPAND */ /* verilator lint_on WIDTHTRUNC */
                        rdx = {{(256-DMA_DATA_WIDTH){1'b0}}, m_axi_rdata};
                        desc_out_reg <= rdx[dpos*128 +: 128];
                        pl[1] = !err_reg && !discard && m_axi_rresp == 2'b00;
                        d_cnt_reg <= d_cnt_reg + 1;
                        if (d_cnt_reg == hd_cnt_reg - 1) begin
                            pop = 1'b1;
                        end
                    end
                    if (pop) begin
                        outst = outst - 1;
                    end
                end
            end
            K_DATA: begin
                if (m_axi_rvalid && !r_gate) begin
                    if (m_axi_rresp != 2'b00 && !err_reg && !discard) begin
                        err_reg <= 1'b1;
                        pl[5] = 1'b1;
                        ev_rd_err_addr_reg <= hd_addr_reg;
                    end
                    // a later beat is the last when no middle beat is left (mid_cnt counts them down)
                    last = first_reg ? hd_single_reg : !midnz_reg;
                    if (!first_reg && !last) begin
                        // middle beat: all bytes valid
                        n = BYTESN;
                        sh = m_axi_rdata;
                    end else begin
                        s = first_reg ? hd_lo_reg : {SIZE_I{1'b0}};
                        n = first_reg ? hd_nf_reg : hd_nl_reg;
                        sh = m_axi_rdata >> {s, 3'b000};
                        if (n != BYTESN) begin
                            sh = sh & ~({DMA_DATA_WIDTH{1'b1}} << {n, 3'b000});
                        end
                    end
                    comb = {{DMA_DATA_WIDTH{1'b0}}, acc_reg} | ({{DMA_DATA_WIDTH{1'b0}}, sh} << {fill_reg, 3'b000});
                    /* verilator lint_off WIDTHEXPAND */ // fill_reg < BYTES, n <= BYTES: no overflow
                    fsum = fill_reg + n;
                    /* verilator lint_on WIDTHEXPAND */
                    fill_reg <= fsum[SIZE_I-1:0];   // fsum - BYTES when a word is complete
                    if (fsum[SIZE_I]) begin
                        pl[0] = 1'b1;
                        fb_waddr_reg <= wptr_reg;
                        fb_wdata_reg <= comb[DMA_DATA_WIDTH-1:0];
                        wptr_reg <= wptr_reg + 1;
                        acc_reg <= comb[2*DMA_DATA_WIDTH-1:DMA_DATA_WIDTH];
                    end else begin
                        acc_reg <= comb[DMA_DATA_WIDTH-1:0];
                    end
                    beat_cnt_reg <= beat_cnt_reg + 1;
                    first_reg <= 1'b0;
                    if (first_reg) begin
                        wmode_reg <= hd_mark_reg[MK_TSO_LSB +: MK_TSO_W];
                        mid_cnt_reg <= hd_mid_reg;
                        midnz_reg <= hd_midnz_reg;
                    end else if (midnz_reg) begin
                        mid_cnt_reg <= mid_cnt_reg - 1;
                        midnz_reg <= mid_cnt_reg != 9'd1;
                    end
                    if (last) begin
                        pop = 1'b1;
                        outst = outst - 1;
                    end
                end
            end
            default: begin
                // marker
                mk = hd_mark_reg;
                mk_drop = mk[MK_DROP_LSB +: MK_DROP_W];
                mk_tso = mk[MK_TSO_LSB +: MK_TSO_W];
                if (err_reg || discard) begin
                    pop = 1'b1;
                end else if (mk_tso == MARK_REWIND) begin
                    // after a TSO probe: its last partial word is written (nic_tso_hdr keeps
                    // the header), then the frame starts over at its first word
                    pop = 1'b1;
                    if (fill_reg != 0) begin
                        pl[0] = 1'b1;
                        fb_waddr_reg <= wptr_reg;
                        fb_wdata_reg <= acc_reg;
                    end
                    wptr_reg <= fstart_reg;
                    acc_reg <= 0;
                    fill_reg <= 0;
                end else if ((!hd_fqneed_reg || fq_room) && (hd_nowb_reg || !wb_full)) begin
                    pop = 1'b1;
                    if (mk_tso != MARK_SEG) begin
                        // a descriptor: TDH advances, its write-back is queued (a context
                        // descriptor's released at once: it belongs to no frame)
                        pl[3] = 1'b1;
                        pl[4] = 1'b1;
                        ev_wb_rs_reg <= mk[MK_RS_BIT];
                        ev_wb_ide_reg <= mk[MK_IDE_BIT];
                        ev_wb_commit_reg <= mk[MK_EOP_BIT] || mk_tso == MARK_CTX;
                    end
                    if (mk[MK_EOP_BIT]) begin
                        // frame end
                        if (mk_drop == DROP_NONE) begin
                            if (fill_reg != 0) begin
                                pl[0] = 1'b1;
                                fb_waddr_reg <= wptr_reg;
                                fb_wdata_reg <= acc_reg;
                                wptr_reg <= wptr_reg + 1;
                                fstart_reg <= wptr_reg + 1;
                            end else begin
                                fstart_reg <= wptr_reg;
                            end
                            pl[2] = 1'b1;
                            // the marker's low fields are the frame record's (nic_records.vh)
                            fq_data_reg <= {fstart_reg, mk[FR_START_LSB-1:0]};
                        end else begin
                            wptr_reg <= fstart_reg;
                            pl[6] = mk_drop == DROP_LONG;
                            pl[7] = mk_drop == DROP_DEXT;
                            ev_dext_addr_reg <= hd_addr_reg;
                            pl[8] = mk_drop == DROP_ZERO;
                        end
                        acc_reg <= 0;
                        fill_reg <= 0;
                    end
                end
            end
        endcase
    end
    if (pop) begin
        beat_cnt_reg <= 0;
        first_reg <= 1'b1;
        d_cnt_reg <= 0;
    end
    // the head register: refilled when empty or popped (an entry written this cycle is
    // loaded the next)
    if (!hd_valid_reg || pop) begin
        hd_valid_reg <= !tq_empty;
        if (!tq_empty) begin
            rp = tq_rd_reg[TAG_LOG2-1:0];
            hd_kind_reg <= tq_kind[rp];
            hd_addr_reg <= tq_addr[rp];
            hd_blast_reg <= tq_blast[rp];
            hd_mid_reg <= tq_mid[rp];
            hd_midnz_reg <= tq_mid[rp] != 9'd0;
            hd_single_reg <= tq_blast[rp] == 9'd0;
            hd_cnt_reg <= tq_cnt[rp];
            hd_lo_reg <= tq_lo[rp];
            hd_nf_reg <= tq_nf[rp];
            hd_nl_reg <= tq_nl[rp];
            hd_mark_reg <= tq_mark[rp];
            hd_fqneed_reg <= tq_mark[rp][MK_EOP_BIT] && tq_mark[rp][MK_DROP_LSB +: MK_DROP_W] == DROP_NONE;
            hd_nowb_reg <= tq_mark[rp][MK_TSO_LSB +: MK_TSO_W] == MARK_SEG;
            hd_hgate_reg <= tq_kind[rp] == K_DATA && (tq_mark[rp][MK_TSO_LSB +: MK_TSO_W] == BURST_PROBE
                                                      || tq_mark[rp][MK_TSO_LSB +: MK_TSO_W] == BURST_HDR);
            tq_rd_n = tq_rd_reg + 1;
        end
    end
    outstanding_reg <= outst;
    pl_reg <= pl;
    fq_room_reg <= fq_room_n;
    tq_wr_reg <= tq_wr_n;
    tq_rd_reg <= tq_rd_n;
    tq_empty_reg <= tq_wr_n == tq_rd_n;
    tq_full_reg <= (tq_wr_n ^ tq_rd_n) == {1'b1, {TAG_LOG2{1'b0}}};
    end
    if (rst) begin
        pulse_reg <= 1'b1;  // as when the reset was in the gate: one more gated cycle follows
        fq_room_reg <= 1'b1;
        tq_wr_reg <= 0;
        tq_rd_reg <= 0;
        tq_empty_reg <= 1'b1;
        tq_full_reg <= 1'b0;
        hd_valid_reg <= 1'b0;
        ar_valid_reg <= 1'b0;
        outstanding_reg <= 0;
        beat_cnt_reg <= 0;
        first_reg <= 1'b1;
        mid_cnt_reg <= 0;
        midnz_reg <= 1'b0;
        d_cnt_reg <= 0;
        err_reg <= 1'b0;
        acc_reg <= 0;
        fill_reg <= 0;
        wptr_reg <= 0;
        fstart_reg <= 0;
        pl_reg <= 9'd0;
    end
end
/* verilator lint_on BLKSEQ */

endmodule

`resetall
