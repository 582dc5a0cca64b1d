/*
 * hilnic -- simulation only: AXI4-Lite master for MMIO, one access per Python wake-up.
 *
 * Python writes cmd_write / cmd_addr / cmd_data / cmd_strb, then cmd_seq = previous + 1.
 * At the next rising edge the access starts (AW and W together for a write, AR for a read);
 * when the response handshake completes, done_rdata / done_resp hold the result and, at the
 * following falling edge, done_seq takes cmd_seq (Python awaits its value change).
 * One access at a time, so accesses complete in the order Python issues them: a read issued
 * after posted writes completes after them.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module tb_axil_master #
(
    // AXI-Lite address width
    parameter ADDR_WIDTH = 16,
    // clock period in ps: done_seq follows half a period after the completing edge
    parameter CLK_PERIOD_PS = 6400
)
(
    input  wire                  clk,
    input  wire                  rst,

    output wire [ADDR_WIDTH-1:0] m_axil_awaddr,
    output wire [2:0]            m_axil_awprot,
    output wire                  m_axil_awvalid,
    input  wire                  m_axil_awready,
    output wire [31:0]           m_axil_wdata,
    output wire [3:0]            m_axil_wstrb,
    output wire                  m_axil_wvalid,
    input  wire                  m_axil_wready,
    input  wire [1:0]            m_axil_bresp,
    input  wire                  m_axil_bvalid,
    output wire                  m_axil_bready,
    output wire [ADDR_WIDTH-1:0] m_axil_araddr,
    output wire [2:0]            m_axil_arprot,
    output wire                  m_axil_arvalid,
    input  wire                  m_axil_arready,
    input  wire [31:0]           m_axil_rdata,
    input  wire [1:0]            m_axil_rresp,
    input  wire                  m_axil_rvalid,
    output wire                  m_axil_rready,

    // no access in progress and none issued by Python (the harness may stop the clock)
    output wire                  idle
);

localparam real HALF_PERIOD_NS = CLK_PERIOD_PS / 2000.0;

// written by Python only
reg                  cmd_write = 0;
reg [ADDR_WIDTH-1:0] cmd_addr = 0;
reg [31:0]           cmd_data = 0;
reg [3:0]            cmd_strb = 4'hF;
reg [31:0]           cmd_seq = 0;

// to Python
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [31:0]           done_rdata = 0;
reg [1:0]            done_resp = 0;
reg [31:0]           done_cnt = 0;
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [31:0]           done_seq = 0;
/* verilator lint_on UNUSEDSIGNAL */

reg [31:0]           cmd_seen = 0;
reg                  busy = 0;
reg [ADDR_WIDTH-1:0] addr_reg = 0;
reg [31:0]           data_reg = 0;
reg [3:0]            strb_reg = 0;
reg                  awvalid_reg = 0;
reg                  wvalid_reg = 0;
reg                  arvalid_reg = 0;
reg                  bready_reg = 0;
reg                  rready_reg = 0;
/* verilator lint_on PROCASSINIT */

assign m_axil_awaddr = addr_reg;
assign m_axil_awprot = 3'b010;
assign m_axil_awvalid = awvalid_reg;
assign m_axil_wdata = data_reg;
assign m_axil_wstrb = strb_reg;
assign m_axil_wvalid = wvalid_reg;
assign m_axil_bready = bready_reg;
assign m_axil_araddr = addr_reg;
assign m_axil_arprot = 3'b010;
assign m_axil_arvalid = arvalid_reg;
assign m_axil_rready = rready_reg;

// continuous gate: an idle master costs one test per cycle
wire act = busy | rst | (cmd_seq != cmd_seen);
assign idle = !busy && cmd_seq == cmd_seen;

always @(posedge clk) if (act) begin
    if (!rst && !busy && cmd_seq != cmd_seen) begin
        cmd_seen <= cmd_seq;
        busy <= 1'b1;
        addr_reg <= cmd_addr;
        data_reg <= cmd_data;
        strb_reg <= cmd_strb;
        if (cmd_write) begin
            awvalid_reg <= 1'b1;
            wvalid_reg <= 1'b1;
            bready_reg <= 1'b1;
        end else begin
            arvalid_reg <= 1'b1;
            rready_reg <= 1'b1;
        end
    end
    if (awvalid_reg && m_axil_awready) awvalid_reg <= 1'b0;
    if (wvalid_reg && m_axil_wready) wvalid_reg <= 1'b0;
    if (arvalid_reg && m_axil_arready) arvalid_reg <= 1'b0;
    if (bready_reg && m_axil_bvalid) begin
        bready_reg <= 1'b0;
        done_resp <= m_axil_bresp;
        done_rdata <= 0;
        done_cnt <= cmd_seen;
        busy <= 1'b0;
    end
    if (rready_reg && m_axil_rvalid) begin
        rready_reg <= 1'b0;
        done_resp <= m_axil_rresp;
        done_rdata <= m_axil_rdata;
        done_cnt <= cmd_seen;
        busy <= 1'b0;
    end
    if (rst) begin
        // an access in flight is abandoned; Python sees it complete with resp 3 (DECERR)
        if (busy) begin
            done_resp <= 2'b11;
            done_rdata <= 0;
            done_cnt <= cmd_seen;
        end
        busy <= 1'b0;
        awvalid_reg <= 1'b0;
        wvalid_reg <= 1'b0;
        arvalid_reg <= 1'b0;
        bready_reg <= 1'b0;
        rready_reg <= 1'b0;
    end
end

always @(done_cnt) done_seq <= #(HALF_PERIOD_NS) done_cnt;

// the result in one vector, so Python reads it with one access (count, resp, rdata from
// bit 0; the count, not the delayed done_seq, so it is up to date when done_seq changes)
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
wire [31+2+32:0] done_info = {done_rdata, done_resp, done_cnt};
/* verilator lint_on UNUSEDSIGNAL */

endmodule

`resetall
