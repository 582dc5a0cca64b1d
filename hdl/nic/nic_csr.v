/*
 * hilnic -- control/status registers (NIC_SPEC.md section 2), AXI-Lite slave,
 * plus the reset / drain sequencer (CTRL.RST, TCTL.EN 0->1 recovery).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_csr #
(
    // width of the AXI-Lite address bus
    parameter AXIL_ADDR_WIDTH = 16,
    // DMA data width (reported in HCAPS)
    parameter DMA_DATA_WIDTH = 128,
    // descriptor prefetch (reported in HCAPS)
    parameter DESC_PREFETCH = 8,
    // max frame bytes (reported in HCAPS)
    parameter MAX_FRAME_BYTES = 9216
)
(
    input  wire                        clk,
    input  wire                        rst,

    /*
     * AXI-Lite slave
     */
    /* verilator lint_off UNUSEDSIGNAL */ // registers are 32-bit words: address bits 1:0 are ignored
    input  wire [AXIL_ADDR_WIDTH-1:0]  s_axil_awaddr,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                        s_axil_awvalid,
    output wire                        s_axil_awready,
    input  wire [31:0]                 s_axil_wdata,
    input  wire [3:0]                  s_axil_wstrb,
    input  wire                        s_axil_wvalid,
    output wire                        s_axil_wready,
    output wire [1:0]                  s_axil_bresp,
    output wire                        s_axil_bvalid,
    input  wire                        s_axil_bready,
    /* verilator lint_off UNUSEDSIGNAL */ // registers are 32-bit words: address bits 1:0 are ignored
    input  wire [AXIL_ADDR_WIDTH-1:0]  s_axil_araddr,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                        s_axil_arvalid,
    output wire                        s_axil_arready,
    output wire [31:0]                 s_axil_rdata,
    output wire [1:0]                  s_axil_rresp,
    output wire                        s_axil_rvalid,
    input  wire                        s_axil_rready,

    /*
     * Configuration
     */
    output wire                        tctl_en,
    output wire                        tctl_psp,
    output wire [63:0]                 tdba,
    output wire [16:0]                 ndesc,
    output wire [15:0]                 tdh,
    output wire [15:0]                 tdt,
    output wire [15:0]                 itr,
    output wire [15:0]                 tidv,
    output wire [15:0]                 tadv,
    output wire [5:0]                  wthresh,
    output wire                        hwb_en,
    output wire [63:0]                 hwb_addr,
    output wire [31:0]                 icr,
    output wire [31:0]                 ims,

    /*
     * Reset / drain control
     */
    output wire                        drain,      // stop issuing, sink everything
    output wire                        txoff,      // halted by an error
    output wire                        dp_rst,     // datapath reset pulse
    output wire                        full_rst,   // full reset pulse (CTRL.RST)
    input  wire                        dp_idle,

    /*
     * Events from the datapath
     */
    input  wire                        ev_tdh_inc,
    input  wire                        ev_txdw,
    input  wire                        ev_rd_err,
    input  wire [63:0]                 ev_rd_err_addr,
    input  wire                        ev_wr_err,
    input  wire [63:0]                 ev_wr_err_addr,
    input  wire                        ev_too_long,
    input  wire                        ev_dext,
    input  wire [63:0]                 ev_dext_addr,
    input  wire                        ev_zero,

    /*
     * Statistics
     */
    input  wire [31:0]                 stat_gptc,
    /* verilator lint_off UNUSEDSIGNAL */ // GOTCH reads stat_gotch_latch (latched by the GOTCL read), not stat_gotc[63:32]
    input  wire [63:0]                 stat_gotc,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [31:0]                 stat_gotch_latch,
    input  wire [31:0]                 stat_tpt,
    output wire                        stat_clr_gptc,
    output wire                        stat_clr_gotcl,
    output wire                        stat_clr_gotch,
    output wire                        stat_clr_tpt
);

localparam [15:0] REG_CTRL     = 16'h0000;
localparam [15:0] REG_STATUS   = 16'h0008;
localparam [15:0] REG_ICR      = 16'h00C0;
localparam [15:0] REG_ITR      = 16'h00C4;
localparam [15:0] REG_ICS      = 16'h00C8;
localparam [15:0] REG_IMS      = 16'h00D0;
localparam [15:0] REG_IMC      = 16'h00D8;
localparam [15:0] REG_TCTL     = 16'h0400;
localparam [15:0] REG_TDBAL    = 16'h3800;
localparam [15:0] REG_TDBAH    = 16'h3804;
localparam [15:0] REG_TDLEN    = 16'h3808;
localparam [15:0] REG_TDH      = 16'h3810;
localparam [15:0] REG_TDT      = 16'h3818;
localparam [15:0] REG_TIDV     = 16'h3820;
localparam [15:0] REG_TXDCTL   = 16'h3828;
localparam [15:0] REG_TADV     = 16'h382C;
localparam [15:0] REG_TDWBAL   = 16'h3838;
localparam [15:0] REG_TDWBAH   = 16'h383C;
localparam [15:0] REG_GPTC     = 16'h4080;
localparam [15:0] REG_GOTCL    = 16'h4090;
localparam [15:0] REG_GOTCH    = 16'h4094;
localparam [15:0] REG_TPT      = 16'h40D4;
localparam [15:0] REG_HID      = 16'hF000;
localparam [15:0] REG_HVER     = 16'hF004;
localparam [15:0] REG_HCAPS    = 16'hF008;
localparam [15:0] REG_ERRADDRL = 16'hF010;
localparam [15:0] REG_ERRADDRH = 16'hF014;
localparam [15:0] REG_ERRCAUSE = 16'hF018;
localparam [15:0] REG_TXDROP   = 16'hF020;

localparam [31:0] HID_VALUE  = 32'h484E4943;
localparam [31:0] HVER_VALUE = 32'h00010000;
localparam [31:0] HCAPS_VALUE = ((DMA_DATA_WIDTH/8) & 32'hff) | ((DESC_PREFETCH & 32'hff) << 8) | (((MAX_FRAME_BYTES/16) & 32'hffff) << 16);

localparam [31:0] ICR_CAUSES = 32'h40000003;
localparam CTRL_RST_BIT = 26;

// sequencer states
localparam [1:0] SEQ_RUN = 2'd0, SEQ_DRAIN_EN = 2'd1, SEQ_DRAIN_RST = 2'd2;

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg        bvalid_reg = 1'b0;
reg        rvalid_reg = 1'b0;
reg [31:0] rdata_reg = 32'd0;

reg [31:0] ctrl_reg = 0;
reg [31:0] icr_reg = 0;
reg [15:0] itr_reg = 0;
reg [31:0] ims_reg = 0;
reg [31:0] tctl_reg = 0;
reg [31:0] tdbal_reg = 0;
reg [31:0] tdbah_reg = 0;
reg [31:0] tdlen_reg = 0;
reg [15:0] tdh_reg = 0;
reg [15:0] tdt_reg = 0;
reg [15:0] tidv_reg = 0;
reg [31:0] txdctl_reg = 0;
reg [15:0] tadv_reg = 0;
reg [31:0] tdwbal_reg = 0;
reg [31:0] tdwbah_reg = 0;
reg [63:0] erraddr_reg = 0;
reg [31:0] errcause_reg = 0;
reg [31:0] txdrop_reg = 0;
reg        txoff_reg = 1'b0;

reg [1:0]  seq_reg = SEQ_RUN;
reg        dp_rst_reg = 1'b0;
reg        full_rst_reg = 1'b0;

reg        clr_gptc_reg = 1'b0, clr_gotcl_reg = 1'b0, clr_gotch_reg = 1'b0, clr_tpt_reg = 1'b0;
/* verilator lint_on PROCASSINIT */

// combinational handshakes (AXI allows ready to depend on valid)
wire wr_en = s_axil_awvalid && s_axil_wvalid && !bvalid_reg;
wire rd_en = s_axil_arvalid && !rvalid_reg;

assign s_axil_awready = wr_en;
assign s_axil_wready = wr_en;
assign s_axil_bresp = 2'b00;
assign s_axil_bvalid = bvalid_reg;
assign s_axil_arready = rd_en;
assign s_axil_rdata = rdata_reg;
assign s_axil_rresp = 2'b00;
assign s_axil_rvalid = rvalid_reg;

assign tctl_en = tctl_reg[1];
assign tctl_psp = tctl_reg[3];
assign tdba = {tdbah_reg, tdbal_reg};
assign ndesc = tdlen_reg[20:4];
assign tdh = tdh_reg;
assign tdt = tdt_reg;
assign itr = itr_reg;
assign tidv = tidv_reg;
assign tadv = tadv_reg;
assign wthresh = txdctl_reg[21:16];
assign hwb_en = tdwbal_reg[0];
assign hwb_addr = {tdwbah_reg, tdwbal_reg[31:2], 2'b00};
assign icr = icr_reg;
assign ims = ims_reg;

assign drain = seq_reg != SEQ_RUN;
assign txoff = txoff_reg;
assign dp_rst = dp_rst_reg;
assign full_rst = full_rst_reg;

assign stat_clr_gptc = clr_gptc_reg;
assign stat_clr_gotcl = clr_gotcl_reg;
assign stat_clr_gotch = clr_gotch_reg;
assign stat_clr_tpt = clr_tpt_reg;

reg [31:0] bm;       // byte mask of the write
reg [31:0] wv;       // strobed write data
reg [31:0] t;
reg [15:0] tdh_next;
reg [31:0] err_set;
reg [15:0] waddr;
reg [15:0] raddr;
reg        regs_clr;

// activity gate: an idle block costs one test per cycle in an event-driven simulator
wire act_main = rst || wr_en || rd_en || bvalid_reg || rvalid_reg || ev_tdh_inc || ev_txdw || ev_rd_err || ev_wr_err || ev_too_long || ev_dext || ev_zero || seq_reg != SEQ_RUN;
wire act = act_main || pulse_reg;
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg pulse_reg = 1'b0; // some output pulse is high and must be cleared
/* verilator lint_on PROCASSINIT */
/* verilator lint_off BLKSEQ */ // '=' only for per-cycle temporaries of this block (set before use, read by no other process)
always @(posedge clk) begin
    if (act) begin
    pulse_reg <= act_main;
    dp_rst_reg <= 1'b0;
    full_rst_reg <= 1'b0;
    clr_gptc_reg <= 1'b0;
    clr_gotcl_reg <= 1'b0;
    clr_gotch_reg <= 1'b0;
    clr_tpt_reg <= 1'b0;
    err_set = 0;
    regs_clr = 1'b0;

    // ---- datapath events ----
    if (ev_tdh_inc) begin
        tdh_next = tdh_reg + 1;
        if ({1'b0, tdh_next} >= ndesc) begin
            tdh_next = 0;
        end
        tdh_reg <= tdh_next;
        if (tdh_next == tdt_reg) begin
            icr_reg[1] <= 1'b1; // TXQE
        end
    end
    if (ev_txdw) begin
        icr_reg[0] <= 1'b1;
    end
    if (ev_rd_err) begin
        err_set[0] = 1'b1;
        erraddr_reg <= ev_rd_err_addr;
        txoff_reg <= 1'b1;
    end
    if (ev_wr_err) begin
        err_set[1] = 1'b1;
        erraddr_reg <= ev_wr_err_addr;
        txoff_reg <= 1'b1;
    end
    if (ev_too_long) begin
        err_set[2] = 1'b1;
    end
    if (ev_dext) begin
        err_set[3] = 1'b1;
        erraddr_reg <= ev_dext_addr;
    end
    if (ev_zero) begin
        err_set[6] = 1'b1;
    end
    if (ev_too_long || ev_dext || ev_zero) begin
        txdrop_reg <= txdrop_reg + 1;
    end

    // ---- AXI-Lite write ----
    if (s_axil_bready) begin
        bvalid_reg <= 1'b0;
    end
    if (wr_en) begin
        bvalid_reg <= 1'b1;
        waddr = {s_axil_awaddr[AXIL_ADDR_WIDTH-1:2], 2'b00};
        bm = {{8{s_axil_wstrb[3]}}, {8{s_axil_wstrb[2]}}, {8{s_axil_wstrb[1]}}, {8{s_axil_wstrb[0]}}};
        wv = s_axil_wdata & bm;
        case (waddr)
            REG_CTRL: begin
                t = (ctrl_reg & ~bm) | wv;
                ctrl_reg <= t;
                if (t[CTRL_RST_BIT]) begin
                    seq_reg <= SEQ_DRAIN_RST;
                end
            end
            REG_ICR: icr_reg <= icr_reg & ~(wv & ICR_CAUSES);
            REG_ITR: itr_reg <= (itr_reg & ~bm[15:0]) | wv[15:0];
            REG_ICS: icr_reg <= icr_reg | (wv & ICR_CAUSES);
            REG_IMS: ims_reg <= ims_reg | (wv & ICR_CAUSES);
            REG_IMC: ims_reg <= ims_reg & ~(wv & ICR_CAUSES);
            REG_TCTL: begin
                t = (tctl_reg & ~bm) | wv;
                tctl_reg <= t;
                if (t[1] && !tctl_reg[1] && seq_reg != SEQ_DRAIN_RST) begin
                    seq_reg <= SEQ_DRAIN_EN;
                end
            end
            REG_TDBAL, REG_TDBAH, REG_TDLEN, REG_TDH: begin
                if (tctl_reg[1]) begin
                    err_set[5] = 1'b1;
                end else begin
                    case (waddr)
                        REG_TDBAL: tdbal_reg <= ((tdbal_reg & ~bm) | wv) & 32'hFFFFFFF0;
                        REG_TDBAH: tdbah_reg <= (tdbah_reg & ~bm) | wv;
                        REG_TDLEN: tdlen_reg <= ((tdlen_reg & ~bm) | wv) & 32'h000FFF80;
                        default:   tdh_reg <= (tdh_reg & ~bm[15:0]) | wv[15:0];
                    endcase
                end
            end
            REG_TDT: begin
                t = {16'd0, (tdt_reg & ~bm[15:0]) | wv[15:0]};
                if (t[16:0] >= ndesc) begin
                    err_set[4] = 1'b1;
                end else begin
                    tdt_reg <= t[15:0];
                end
            end
            REG_TIDV: tidv_reg <= (tidv_reg & ~bm[15:0]) | wv[15:0];
            REG_TXDCTL: txdctl_reg <= (txdctl_reg & ~bm) | wv;
            REG_TADV: tadv_reg <= (tadv_reg & ~bm[15:0]) | wv[15:0];
            REG_TDWBAL: tdwbal_reg <= (tdwbal_reg & ~bm) | wv;
            REG_TDWBAH: tdwbah_reg <= (tdwbah_reg & ~bm) | wv;
            default: ;
        endcase
    end

    // ---- AXI-Lite read ----
    if (s_axil_rready) begin
        rvalid_reg <= 1'b0;
    end
    if (rd_en) begin
        rvalid_reg <= 1'b1;
        raddr = {s_axil_araddr[AXIL_ADDR_WIDTH-1:2], 2'b00};
        case (raddr)
            REG_CTRL:     rdata_reg <= ctrl_reg;
            REG_STATUS:   rdata_reg <= {seq_reg != SEQ_RUN, 26'd0, txoff_reg, 2'b00, 1'b1, 1'b0};
            REG_ICR: begin
                rdata_reg <= icr_reg | {(|(icr_reg & ims_reg)), 31'd0};
                icr_reg <= 32'd0;
            end
            REG_ITR:      rdata_reg <= {16'd0, itr_reg};
            REG_IMS:      rdata_reg <= ims_reg;
            REG_TCTL:     rdata_reg <= tctl_reg;
            REG_TDBAL:    rdata_reg <= tdbal_reg;
            REG_TDBAH:    rdata_reg <= tdbah_reg;
            REG_TDLEN:    rdata_reg <= tdlen_reg;
            REG_TDH:      rdata_reg <= {16'd0, tdh_reg};
            REG_TDT:      rdata_reg <= {16'd0, tdt_reg};
            REG_TIDV:     rdata_reg <= {16'd0, tidv_reg};
            REG_TXDCTL:   rdata_reg <= txdctl_reg;
            REG_TADV:     rdata_reg <= {16'd0, tadv_reg};
            REG_TDWBAL:   rdata_reg <= tdwbal_reg;
            REG_TDWBAH:   rdata_reg <= tdwbah_reg;
            REG_GPTC:     begin rdata_reg <= stat_gptc; clr_gptc_reg <= 1'b1; end
            REG_GOTCL:    begin rdata_reg <= stat_gotc[31:0]; clr_gotcl_reg <= 1'b1; end
            REG_GOTCH:    begin rdata_reg <= stat_gotch_latch; clr_gotch_reg <= 1'b1; end
            REG_TPT:      begin rdata_reg <= stat_tpt; clr_tpt_reg <= 1'b1; end
            REG_HID:      rdata_reg <= HID_VALUE;
            REG_HVER:     rdata_reg <= HVER_VALUE;
            REG_HCAPS:    rdata_reg <= HCAPS_VALUE;
            REG_ERRADDRL: rdata_reg <= erraddr_reg[31:0];
            REG_ERRADDRH: rdata_reg <= erraddr_reg[63:32];
            REG_ERRCAUSE: begin rdata_reg <= errcause_reg; errcause_reg <= 32'd0; end
            REG_TXDROP:   begin rdata_reg <= txdrop_reg; txdrop_reg <= 32'd0; end
            default:      rdata_reg <= 32'd0;
        endcase
        // a drop event in the same cycle as the TXDROP read counts in the next period
        if (raddr == REG_TXDROP && (ev_too_long || ev_dext || ev_zero)) begin
            txdrop_reg <= 32'd1;
        end
    end

    // ---- errors raise ICR.ERR (after a possible read-clear this cycle) ----
    if (err_set != 0) begin
        errcause_reg <= ((rd_en && raddr == REG_ERRCAUSE) ? 32'd0 : errcause_reg) | err_set;
        icr_reg[30] <= 1'b1;
    end
    if (rd_en && raddr == REG_ICR) begin
        // causes arriving in the cycle of the read are kept for the next read
        icr_reg <= {1'b0, err_set != 0, 28'd0, (ev_tdh_inc && tdh_next == tdt_reg), ev_txdw};
    end

    // ---- reset / drain sequencer ----
    case (seq_reg)
        SEQ_DRAIN_EN: begin
            if (dp_idle) begin
                dp_rst_reg <= 1'b1;
                txoff_reg <= 1'b0;
                seq_reg <= SEQ_RUN;
            end
        end
        SEQ_DRAIN_RST: begin
            if (dp_idle) begin
                dp_rst_reg <= 1'b1;
                full_rst_reg <= 1'b1;
                seq_reg <= SEQ_RUN;
                regs_clr = 1'b1;  // CTRL.RST drained: registers back to reset values below
            end
        end
        default: ;
    endcase

    // One list of register reset values for both rst and a drained CTRL.RST; last, so it wins.
    if (rst || regs_clr) begin
        ctrl_reg <= 0;
        icr_reg <= 0;
        itr_reg <= 0;
        ims_reg <= 0;
        tctl_reg <= 0;
        tdbal_reg <= 0;
        tdbah_reg <= 0;
        tdlen_reg <= 0;
        tdh_reg <= 0;
        tdt_reg <= 0;
        tidv_reg <= 0;
        txdctl_reg <= 0;
        tadv_reg <= 0;
        tdwbal_reg <= 0;
        tdwbah_reg <= 0;
        erraddr_reg <= 0;
        errcause_reg <= 0;
        txdrop_reg <= 0;
        txoff_reg <= 1'b0;
    end
    if (rst) begin
        bvalid_reg <= 1'b0;
        rvalid_reg <= 1'b0;
        rdata_reg <= 0;
        seq_reg <= SEQ_RUN;
        dp_rst_reg <= 1'b0;
        full_rst_reg <= 1'b0;
    end
end
end
/* verilator lint_on BLKSEQ */

endmodule

`resetall
