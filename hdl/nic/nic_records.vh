/*
 * hilnic -- the NIC's internal record-like buses: field offsets and the functions that build
 * the records, defined once. Included inside the body of every module that builds or reads
 * one of them (nic_top for the widths, nic_dma_rd, nic_csum, nic_xgmii_tx, nic_tx_frame), after
 * the module's parameters: the frame buffer address field is FB_ADDR_WIDTH bits, the
 * includer's parameter. A field is read as `rec[X_LSB +: X_W]` or `rec[X_BIT]`; a record is
 * built only by its function (mk_rec, ft_rec) or, for the completed frame, from a marker.
 */

/* verilator lint_off UNUSEDPARAM */ // each module uses the fields of the records it handles

// ---- why a frame is dropped (nic_tx_frame's marker -> nic_dma_rd) ----
localparam [1:0] DROP_NONE = 2'd0, DROP_LONG = 2'd1, DROP_DEXT = 2'd2, DROP_ZERO = 2'd3;

// ---- completed frame, nic_dma_rd -> nic_csum: {start, len, ifcs, ic, css, cso} ----
localparam FR_CSO_LSB   = 0,  FR_CSO_W = 8;    // checksum offset (descriptor CSO)
localparam FR_CSS_LSB   = 8,  FR_CSS_W = 8;    // checksum start (descriptor CSS)
localparam FR_IC_BIT    = 16;                  // insert the checksum
localparam FR_IFCS_BIT  = 17;                  // the MAC appends the FCS
localparam FR_LEN_LSB   = 18, FR_LEN_W = 16;   // bytes in the frame buffer
localparam FR_START_LSB = 34;                  // first frame buffer word, FB_ADDR_WIDTH bits
localparam FR_W         = FR_START_LSB + FB_ADDR_WIDTH;

// ---- frame descriptor marker, queued in nic_dma_rd's tag queue ----
// The bits below FR_START_LSB are the fields of the completed-frame record (the frame it
// ends, when EOP), above them what the marker does besides: {tso, rs, ide, eop, drop, frame}.
// A data burst's entry uses only MK_TSO (the burst's kind, for nic_tso_hdr).
localparam MK_DROP_LSB  = FR_START_LSB, MK_DROP_W = 2;  // DROP_*
localparam MK_EOP_BIT   = 36;                  // last descriptor of the frame
localparam MK_IDE_BIT   = 37;                  // delay the write-back interrupt
localparam MK_RS_BIT    = 38;                  // write back this descriptor
localparam MK_TSO_LSB   = 39, MK_TSO_W = 2;    // TSO: a burst's BURST_* or a marker's MARK_*
localparam MK_W         = 41;

// ---- TSO kinds (nic_tx_frame's req_tso) ----
// data bursts: frame data, the probe (the header, kept by nic_tso_hdr), a segment's header, its payload
localparam [1:0] BURST_DATA = 2'd0, BURST_PROBE = 2'd1, BURST_HDR = 2'd2, BURST_PAY = 2'd3;
// markers: a descriptor's; the rewind after a probe; a segment's end (no descriptor); a
// context descriptor's (TDH, write-back released at once, no frame)
localparam [1:0] MARK_DESC = 2'd0, MARK_REWIND = 2'd1, MARK_SEG = 2'd2, MARK_CTX = 2'd3;

function [MK_W-1:0] mk_rec;
    input [MK_TSO_W-1:0] tso;
    input                rs, ide, eop;
    input [MK_DROP_W-1:0] drop;
    input [FR_LEN_W-1:0] len;
    input                ifcs, ic;
    input [FR_CSS_W-1:0] css;
    input [FR_CSO_W-1:0] cso;
    begin
        mk_rec = {MK_W{1'b0}};
        mk_rec[MK_TSO_LSB +: MK_TSO_W] = tso;
        mk_rec[MK_RS_BIT] = rs;
        mk_rec[MK_IDE_BIT] = ide;
        mk_rec[MK_EOP_BIT] = eop;
        mk_rec[MK_DROP_LSB +: MK_DROP_W] = drop;
        mk_rec[FR_LEN_LSB +: FR_LEN_W] = len;
        mk_rec[FR_IFCS_BIT] = ifcs;
        mk_rec[FR_IC_BIT] = ic;
        mk_rec[FR_CSS_LSB +: FR_CSS_W] = css;
        mk_rec[FR_CSO_LSB +: FR_CSO_W] = cso;
    end
endfunction

// ---- frame with its checksum, nic_csum -> nic_xgmii_tx: {start, len, ifcs, ic, cso, csum} ----
localparam FT_CSUM_LSB  = 0,  FT_CSUM_W = 16;  // checksum to insert at CSO (big-endian)
localparam FT_CSO_LSB   = 16, FT_CSO_W = 8;    // checksum offset
localparam FT_IC_BIT    = 24;                  // insert the checksum
localparam FT_IFCS_BIT  = 25;                  // append the FCS
localparam FT_LEN_LSB   = 26, FT_LEN_W = 16;   // bytes in the frame buffer
localparam FT_START_LSB = 42;                  // first frame buffer word, FB_ADDR_WIDTH bits
localparam FT_W         = FT_START_LSB + FB_ADDR_WIDTH;

function [FT_W-1:0] ft_rec;
    input [FB_ADDR_WIDTH-1:0] start;
    input [FT_LEN_W-1:0]      len;
    input                     ifcs, ic;
    input [FT_CSO_W-1:0]      cso;
    input [FT_CSUM_W-1:0]     csum;
    begin
        ft_rec = {FT_W{1'b0}};
        ft_rec[FT_START_LSB +: FB_ADDR_WIDTH] = start;
        ft_rec[FT_LEN_LSB +: FT_LEN_W] = len;
        ft_rec[FT_IFCS_BIT] = ifcs;
        ft_rec[FT_IC_BIT] = ic;
        ft_rec[FT_CSO_LSB +: FT_CSO_W] = cso;
        ft_rec[FT_CSUM_LSB +: FT_CSUM_W] = csum;
    end
endfunction

/* verilator lint_on UNUSEDPARAM */
