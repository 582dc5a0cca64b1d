/*
 * hilnic -- TSO header patcher (docs/nic.md section 3, TCP segmentation). Sits on the
 * frame buffer's write port. A TSO packet's header is read from host memory once more
 * before its first segment (the probe): this block keeps it in a small RAM, then reads
 * the IPv4 header's sum, the IP ID, the TCP sequence number, flags and pseudo-header sum
 * out of it, one byte a cycle, and writes the first segment's fields into it. Every
 * segment's header words, as nic_dma_rd writes them to the frame buffer (the header is
 * read again from host memory for each segment), are replaced by the kept header. When a
 * segment's header is complete the next one's is prepared (about 16 cycles; probe and
 * header bursts wait meanwhile, `hold`):
 *
 *   IPv4 total length = segment length - IPCSS     IP ID = first + segment number
 *   IPv4 checksum (IXSM) over [IPCSS, IPCSE]       TCP sequence = first + bytes before
 *   TCP FIN and PSH cleared except on the last     TCP checksum field (TXSM) = the
 *   segment                                        driver's pseudo-header sum + TCP length
 *
 * (nic_csum then sums the segment from TUCSS as for any checksum-offload frame.) The
 * context's positions are checked by nic_tx_frame: checksums at IPCSS + 10 and
 * TUCSS + 16, 20-byte headers at least, HDRLEN >= 40, so a header spans >= 2 bus words.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_tso_hdr #
(
    // frame buffer word width
    parameter DMA_DATA_WIDTH = 128,
    // log2 of the frame buffer size in words
    parameter FB_ADDR_WIDTH = 11
)
(
    input  wire                        clk,
    input  wire                        rst,

    /*
     * TSO context of each packet, in order (nic_tx_frame, pushed with its probe)
     */
    input  wire                        tctx_valid,
    output wire                        tctx_ready,
    input  wire [7:0]                  tctx_ipcss,
    input  wire [7:0]                  tctx_ipcse,
    input  wire [7:0]                  tctx_tucss,
    input  wire [7:0]                  tctx_hdrlen,
    input  wire [15:0]                 tctx_mss,
    input  wire [19:0]                 tctx_paylen,
    input  wire                        tctx_ixsm,
    input  wire                        tctx_txsm,

    /*
     * Frame buffer writes (nic_dma_rd) and the data written
     */
    input  wire                        we,
    input  wire [FB_ADDR_WIDTH-1:0]    waddr,
    input  wire [DMA_DATA_WIDTH-1:0]   wdata,
    input  wire [1:0]                  wmode,     // 0 frame data, 1 probe, 2/3 segment header/payload
    input  wire [FB_ADDR_WIDTH-1:0]    wfs,       // first word of the frame being written
    output wire [DMA_DATA_WIDTH-1:0]   wdata_out,

    output wire                        hold,      // a header is being prepared

    // the activity gate: the next clock edge may change this block's state or its context FIFO's (nic_top's `quiet`)
    output wire                        active
);

localparam BYTES = DMA_DATA_WIDTH/8;
localparam WS = $clog2(BYTES);
localparam HDEPTH = 256/BYTES;              // words of the longest header (HDRLEN < 256)
localparam HA = $clog2(HDEPTH);
localparam CTX_W = 8+8+8+8+16+20+1+1;
localparam integer BYTES_I = BYTES;
localparam [8:0] HW_ROUND = BYTES_I[8:0] - 9'd1;   // to round HDRLEN up to words
localparam [WS:0] BYTES_W = BYTES_I[WS:0];

// parameter checks
initial begin
    if (DMA_DATA_WIDTH != 64 && DMA_DATA_WIDTH != 128 && DMA_DATA_WIDTH != 256) begin
        $error("Error: DMA_DATA_WIDTH must be 64, 128 or 256 (instance %m)");
        $fatal(1, "nic_tso_hdr: illegal parameter");
    end
    if (FB_ADDR_WIDTH <= HA) begin
        $error("Error: the frame buffer must hold more than one header (instance %m)");
        $fatal(1, "nic_tso_hdr: illegal parameter");
    end
end

// ---------------- contexts in flight ----------------
wire [CTX_W-1:0] cq_out;
wire             cq_valid;
/* verilator lint_off UNUSEDSIGNAL */ // a probe always has its context queued (pushed before its first read)
wire             cq_valid_unused = cq_valid;
/* verilator lint_on UNUSEDSIGNAL */
wire             cq_pop;
wire             cq_active;

nic_fifo #(
    .WIDTH(CTX_W),
    .DEPTH_LOG2(1)
)
tctx_fifo_inst (
    .clk(clk),
    .rst(rst),
    .in_data({tctx_ipcss, tctx_ipcse, tctx_tucss, tctx_hdrlen, tctx_mss, tctx_paylen, tctx_ixsm, tctx_txsm}),
    .in_valid(tctx_valid),
    .in_ready(tctx_ready),
    .out_data(cq_out),
    .out_valid(cq_valid),
    .out_ready(cq_pop),
    /* verilator lint_off PINCONNECTEMPTY */ // in_ready is the flow control
    .count(),
    /* verilator lint_on PINCONNECTEMPTY */
    .active(cq_active)
);

// ---------------- the kept header ----------------
reg [DMA_DATA_WIDTH-1:0] hram [0:HDEPTH-1];

localparam [2:0] S_IDLE = 3'd0, S_SUM = 3'd1, S_TCP = 3'd2, S_PREP = 3'd3;

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [2:0]   st_reg = S_IDLE;
reg [2:0]   st_n;                // the next st_reg
reg [3:0]   step_reg = 0;
reg [7:0]   off_reg = 0;         // byte of the header being read or written
// the packet's context
reg [7:0]   ipcss_reg = 0;
reg [7:0]   ipcse_reg = 0;
reg [7:0]   tucss_reg = 0;
reg [7:0]   hdrlen_reg = 0;
reg [15:0]  mss_reg = 0;
reg         ixsm_reg = 1'b0;
reg         txsm_reg = 1'b0;
reg [HA:0]  hw_reg = 0;          // header words: ceil(HDRLEN / BYTES)
reg [WS:0]  tail_reg = 0;        // header bytes in the last header word (1..BYTES)
// read from the probe
reg [23:0]  sum_reg = 0;         // IPv4 header without total length and ID
// S_SUM reads a byte a cycle and adds it the cycle after (the header RAM read and the add are
// not one path): the byte, whether it is summed, and whether it is a word's high byte
reg [7:0]   sb_reg = 0;
reg         sadd_reg = 1'b0;
reg         shi_reg = 1'b0;
reg [15:0]  id_reg = 0;          // next segment's IP ID
reg [31:0]  seq_reg = 0;         // next segment's sequence number
reg [7:0]   flags_reg = 0;
reg [15:0]  phs_reg = 0;         // the driver's pseudo-header sum (TCP checksum field)
reg [19:0]  rem_reg = 0;         // payload bytes from the next segment on
reg         last_reg = 1'b1;     // the prepared segment is the last one
// the segment being prepared
reg [15:0]  sp_reg = 0;
reg [15:0]  tl_reg = 0;
reg [15:0]  tcplen_reg = 0;
reg [17:0]  s1_reg = 0;
reg [16:0]  t1_reg = 0;
reg [15:0]  ipck_reg = 0;
reg [15:0]  tck_reg = 0;
/* verilator lint_on PROCASSINIT */

// `hold` (busy, to nic_dma_rd's R path) as a flip-flop of its own, from the next state
/* verilator lint_off PROCASSINIT */ // power-up value: simulation starts from it before the first reset (both simulators)
reg  busy_reg = 1'b0;
/* verilator lint_on PROCASSINIT */
wire busy = st_reg != S_IDLE;
assign hold = busy_reg;

// write port: the written word's position in its frame (continuous assignments: Icarus
// evaluates them at time 0, where an always @* waits for its first input change)
wire [FB_ADDR_WIDTH-1:0] widx = waddr - wfs;
wire                     in_hdr = widx < {{(FB_ADDR_WIDTH-HA-1){1'b0}}, hw_reg};  // the word holds header bytes
// two read ports (a LUT RAM copy each, for the clock): the written word's, and the byte
// stepped through while busy, whose path to the segment's fields then does not start at
// nic_dma_rd's write address and widx's subtraction
wire [HA-1:0]             ra = widx[HA-1:0];
wire [HA-1:0]             rab = off_reg[7:WS];
wire [DMA_DATA_WIDTH-1:0] hq = hram[ra];
wire [DMA_DATA_WIDTH-1:0] hb = hram[rab];
// a segment's header word: the kept header, the payload after HDRLEN in the last one
wire        seg_hdr = wmode[1] && in_hdr;
wire        hdr_last = widx == {{(FB_ADDR_WIDTH-HA-1){1'b0}}, hw_reg} - 1'b1;
reg [DMA_DATA_WIDTH-1:0] wd;
// word-wide masks, not a loop over the lanes (Icarus pays per statement executed); the last
// header word takes its first tail_reg bytes from the kept header
always @* begin
    if (!seg_hdr) begin
        wd = wdata;
    end else if (!hdr_last) begin
        wd = hq;
    end else begin
        wd = (hq & ~({DMA_DATA_WIDTH{1'b1}} << {tail_reg, 3'b000})) | (wdata & ({DMA_DATA_WIDTH{1'b1}} << {tail_reg, 3'b000}));
    end
end
assign wdata_out = wd;

wire [7:0] rb = hb[off_reg[WS-1:0]*8 +: 8];   // the header byte at off_reg (while busy)

// context fields at the head of the queue
wire [7:0]  c_ipcss  = cq_out[CTX_W-1 -: 8];
wire [7:0]  c_ipcse  = cq_out[CTX_W-9 -: 8];
wire [7:0]  c_tucss  = cq_out[CTX_W-17 -: 8];
wire [7:0]  c_hdrlen = cq_out[CTX_W-25 -: 8];
wire [15:0] c_mss    = cq_out[CTX_W-33 -: 16];
wire [19:0] c_paylen = cq_out[21:2];
wire        c_ixsm   = cq_out[1];
wire        c_txsm   = cq_out[0];

wire probe_w = we && wmode == 2'd1;
wire first_w = probe_w && widx == 0;
wire hdr_end = hdr_last;  // the header's last word
assign cq_pop = first_w;

// byte writes into the kept header while a segment is prepared
reg         bw;
reg [7:0]   bo;
reg [7:0]   bv;
reg         bt;     // the byte's offset: TUCSS (1) or IPCSS (0) + bk, one adder for every step
reg [7:0]   bk;
reg [8:0]   rel;
reg [16:0]  y;
// the header RAM's one write port: the probe's words, or one byte of a prepared segment
reg                      hw_en;
reg [HA-1:0]             hwa;
reg [DMA_DATA_WIDTH-1:0] hwd;
reg [BYTES-1:0]          hbe;
integer                  k;

// activity gate: an idle block costs one test per cycle in an event-driven simulator. Of
// the writes, only the probe's and a segment header's last word change state (a segment's
// payload words stream past: they must not cost the block a pass a word).
// The reset is applied after the gated code, not through the gate (for the clock: the datapath
// reset would reach every register's enable through it).
wire act = busy || probe_w || (we && wmode[1] && hdr_end);
assign active = act || rst || cq_active;

/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) begin
    if (act) begin
    bw = 1'b0;
    bv = 8'd0;
    bt = 1'b0;
    bk = 8'd0;
    bo = 8'd0;
    st_n = st_reg;
    sadd_reg <= 1'b0;
    if (sadd_reg) begin
        // the byte S_SUM read last cycle (the last one is added in S_TCP's first step)
        sum_reg <= sum_reg + (shi_reg ? {8'd0, sb_reg, 8'd0} : {16'd0, sb_reg});
    end
    case (st_reg)
        S_IDLE: begin
            if (probe_w) begin
                // the probe: keep the header
                if (first_w) begin
                    ipcss_reg <= c_ipcss;
                    ipcse_reg <= c_ipcse;
                    tucss_reg <= c_tucss;
                    hdrlen_reg <= c_hdrlen;
                    mss_reg <= c_mss;
                    rem_reg <= c_paylen;
                    ixsm_reg <= c_ixsm;
                    txsm_reg <= c_txsm;
                    /* verilator lint_off WIDTHTRUNC */ // HDRLEN < 256: at most HDEPTH words
                    hw_reg <= ({1'b0, c_hdrlen} + HW_ROUND) >> WS;
                    /* verilator lint_on WIDTHTRUNC */
                    tail_reg <= (c_hdrlen[WS-1:0] == 0) ? BYTES_W : {1'b0, c_hdrlen[WS-1:0]};
                end else if (hdr_end) begin
                    // the whole header is kept: sum the IPv4 header
                    st_n = S_SUM;
                    off_reg <= ipcss_reg;
                    sum_reg <= 0;
                end
            end else if (we && wmode[1] && hdr_end && !last_reg) begin
                // this segment's header is complete: prepare the next one's
                st_n = S_PREP;
                step_reg <= 0;
            end
        end
        S_SUM: begin
            // [IPCSS, IPCSE] as 16-bit big-endian words, without total length and ID
            rel = {1'b0, off_reg} - {1'b0, ipcss_reg};
            if (rel == 9'd4) begin
                id_reg[15:8] <= rb;
            end else if (rel == 9'd5) begin
                id_reg[7:0] <= rb;
            end
            sb_reg <= rb;
            sadd_reg <= rel < 9'd2 || rel > 9'd5;
            shi_reg <= !rel[0];
            if (off_reg == ipcse_reg) begin
                st_n = S_TCP;
                step_reg <= 0;
                off_reg <= tucss_reg + 8'd4;
            end else begin
                off_reg <= off_reg + 8'd1;
            end
        end
        S_TCP: begin
            // sequence number, flags, pseudo-header sum
            case (step_reg)
                4'd0: begin seq_reg[31:24] <= rb; bt = 1'b1; bk = 8'd5; end
                4'd1: begin seq_reg[23:16] <= rb; bt = 1'b1; bk = 8'd6; end
                4'd2: begin seq_reg[15:8] <= rb; bt = 1'b1; bk = 8'd7; end
                4'd3: begin seq_reg[7:0] <= rb; bt = 1'b1; bk = 8'd13; end
                4'd4: begin flags_reg <= rb; bt = 1'b1; bk = 8'd16; end
                4'd5: begin phs_reg[15:8] <= rb; bt = 1'b1; bk = 8'd17; end
                default: begin
                    phs_reg[7:0] <= rb;
                    // fold the IPv4 sum to 16 bits
                    y = {1'b0, sum_reg[15:0]} + {9'd0, sum_reg[23:16]};
                    y = {1'b0, y[15:0]} + {16'd0, y[16]};
                    sum_reg <= {8'd0, y[15:0]};
                    st_n = S_PREP;
                end
            endcase
            step_reg <= step_reg + 4'd1;
            if (step_reg == 4'd6) begin
                step_reg <= 0;
            end
        end
        default: begin
            // S_PREP: the next segment's fields into the kept header, one byte a cycle
            case (step_reg)
                4'd0: begin
                    sp_reg <= (rem_reg > {4'd0, mss_reg}) ? mss_reg : rem_reg[15:0];
                    last_reg <= rem_reg <= {4'd0, mss_reg};
                end
                4'd1: begin
                    tl_reg <= {8'd0, hdrlen_reg} + sp_reg - {8'd0, ipcss_reg};
                    tcplen_reg <= {8'd0, hdrlen_reg} + sp_reg - {8'd0, tucss_reg};
                end
                4'd2: begin
                    s1_reg <= {2'd0, sum_reg[15:0]} + {2'd0, tl_reg} + {2'd0, id_reg};
                    t1_reg <= {1'b0, phs_reg} + {1'b0, tcplen_reg};
                    bw = 1'b1; bt = 1'b0; bk = 8'd2; bv = tl_reg[15:8];
                end
                4'd3: begin
                    y = {1'b0, s1_reg[15:0]} + {15'd0, s1_reg[17:16]};
                    y = {1'b0, y[15:0]} + {16'd0, y[16]};
                    ipck_reg <= ~y[15:0];
                    y = {1'b0, t1_reg[15:0]} + {16'd0, t1_reg[16]};
                    tck_reg <= y[15:0];
                    bw = 1'b1; bt = 1'b0; bk = 8'd3; bv = tl_reg[7:0];
                end
                4'd4: begin bw = 1'b1; bt = 1'b0; bk = 8'd4; bv = id_reg[15:8]; end
                4'd5: begin bw = 1'b1; bt = 1'b0; bk = 8'd5; bv = id_reg[7:0]; end
                4'd6: begin bw = 1'b1; bt = 1'b1; bk = 8'd4; bv = seq_reg[31:24]; end
                4'd7: begin bw = 1'b1; bt = 1'b1; bk = 8'd5; bv = seq_reg[23:16]; end
                4'd8: begin bw = 1'b1; bt = 1'b1; bk = 8'd6; bv = seq_reg[15:8]; end
                4'd9: begin bw = 1'b1; bt = 1'b1; bk = 8'd7; bv = seq_reg[7:0]; end
                4'd10: begin
                    // FIN and PSH only on the last segment
                    bw = 1'b1; bt = 1'b1; bk = 8'd13; bv = last_reg ? flags_reg : (flags_reg & 8'hF6);
                end
                4'd11: begin bw = ixsm_reg; bt = 1'b0; bk = 8'd10; bv = ipck_reg[15:8]; end
                4'd12: begin bw = ixsm_reg; bt = 1'b0; bk = 8'd11; bv = ipck_reg[7:0]; end
                4'd13: begin bw = txsm_reg; bt = 1'b1; bk = 8'd16; bv = tck_reg[15:8]; end
                4'd14: begin bw = txsm_reg; bt = 1'b1; bk = 8'd17; bv = tck_reg[7:0]; end
                default: begin
                    // the segment after it
                    rem_reg <= rem_reg - {4'd0, sp_reg};
                    id_reg <= id_reg + 16'd1;
                    seq_reg <= seq_reg + {16'd0, sp_reg};
                    st_n = S_IDLE;
                end
            endcase
            step_reg <= step_reg + 4'd1;
        end
    endcase
    if (st_reg == S_TCP || st_reg == S_PREP) begin
        // the next byte to read (S_TCP) or the one written now (S_PREP)
        bo = (bt ? tucss_reg : ipcss_reg) + bk;
        if (st_reg == S_PREP || step_reg != 4'd6) begin
            off_reg <= bo;
        end
    end
    hw_en = (st_reg == S_IDLE && probe_w) || bw;
    if (st_reg == S_IDLE) begin
        hwa = widx[HA-1:0];
        hwd = wdata;
        hbe = {BYTES{1'b1}};
    end else begin
        hwa = bo[7:WS];
        hwd = {BYTES{bv}};
        hbe = {{(BYTES-1){1'b0}}, 1'b1} << bo[WS-1:0];
    end
    if (hw_en) begin
        for (k = 0; k < BYTES; k = k + 1) begin
            if (hbe[k]) begin
                hram[hwa][k*8 +: 8] <= hwd[k*8 +: 8];
            end
        end
    end

    st_reg <= st_n;
    busy_reg <= st_n != S_IDLE;
    end
    if (rst) begin
        st_reg <= S_IDLE;
        busy_reg <= 1'b0;
        last_reg <= 1'b1;
        sadd_reg <= 1'b0;
    end
end
/* verilator lint_on BLKSEQ */

endmodule

`resetall
