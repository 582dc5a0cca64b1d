/*
 * hilnic -- simulation only: self-test toplevel for the harness transactors, without nic_top.
 *
 * tb_axi_mem answers the top-level s_axi_* bus (drive it with cocotbext-axi's AxiMaster,
 * `AxiBus.from_prefix(dut, "s_axi")`), tb_axil_master drives m_axil_* (answer it with
 * AxiLiteRam), tb_xgmii_rx decodes xgmii_txd/txc (drive them with cocotbext-eth's XgmiiSource),
 * and tb_axi_checker watches both AXI buses. Generated once from a port list; edit freely.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module tb_selftest #
(
    // AXI data width
    parameter DATA_WIDTH = 128,
    // AXI address width
    parameter ADDR_WIDTH = 64,
    // AXI ID width
    parameter ID_WIDTH = 4,
    // AXI-Lite address width
    parameter AXIL_ADDR_WIDTH = 16,
    // clock period in picoseconds (even)
    parameter CLK_PERIOD_PS = 6400
)
(
    input  wire [ID_WIDTH-1:0]         s_axi_awid,
    input  wire [ADDR_WIDTH-1:0]       s_axi_awaddr,
    input  wire [7:0]                  s_axi_awlen,
    input  wire [2:0]                  s_axi_awsize,
    input  wire [1:0]                  s_axi_awburst,
    input  wire                        s_axi_awlock,
    input  wire [3:0]                  s_axi_awcache,
    input  wire [2:0]                  s_axi_awprot,
    input  wire                        s_axi_awvalid,
    input  wire [DATA_WIDTH-1:0]       s_axi_wdata,
    input  wire [DATA_WIDTH/8-1:0]     s_axi_wstrb,
    input  wire                        s_axi_wlast,
    input  wire                        s_axi_wvalid,
    input  wire                        s_axi_bready,
    input  wire [ID_WIDTH-1:0]         s_axi_arid,
    input  wire [ADDR_WIDTH-1:0]       s_axi_araddr,
    input  wire [7:0]                  s_axi_arlen,
    input  wire [2:0]                  s_axi_arsize,
    input  wire [1:0]                  s_axi_arburst,
    input  wire                        s_axi_arlock,
    input  wire [3:0]                  s_axi_arcache,
    input  wire [2:0]                  s_axi_arprot,
    input  wire                        s_axi_arvalid,
    input  wire                        s_axi_rready,
    output wire                        s_axi_awready,
    output wire                        s_axi_wready,
    output wire [ID_WIDTH-1:0]         s_axi_bid,
    output wire [1:0]                  s_axi_bresp,
    output wire                        s_axi_bvalid,
    output wire                        s_axi_arready,
    output wire [ID_WIDTH-1:0]         s_axi_rid,
    output wire [DATA_WIDTH-1:0]       s_axi_rdata,
    output wire [1:0]                  s_axi_rresp,
    output wire                        s_axi_rlast,
    output wire                        s_axi_rvalid,
    output wire [AXIL_ADDR_WIDTH-1:0]  m_axil_awaddr,
    output wire [2:0]                  m_axil_awprot,
    output wire                        m_axil_awvalid,
    output wire [31:0]                 m_axil_wdata,
    output wire [3:0]                  m_axil_wstrb,
    output wire                        m_axil_wvalid,
    output wire                        m_axil_bready,
    output wire [AXIL_ADDR_WIDTH-1:0]  m_axil_araddr,
    output wire [2:0]                  m_axil_arprot,
    output wire                        m_axil_arvalid,
    output wire                        m_axil_rready,
    input  wire                        m_axil_awready,
    input  wire                        m_axil_wready,
    input  wire [1:0]                  m_axil_bresp,
    input  wire                        m_axil_bvalid,
    input  wire                        m_axil_arready,
    input  wire [31:0]                 m_axil_rdata,
    input  wire [1:0]                  m_axil_rresp,
    input  wire                        m_axil_rvalid,
    input  wire [63:0]                 xgmii_txd,
    input  wire [7:0]                  xgmii_txc
);

localparam real HALF_PERIOD_NS = CLK_PERIOD_PS / 2000.0;

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg        clk = 1'b0;
reg        rst = 1'b1;
reg [63:0] cycle = 0;
/* verilator lint_on PROCASSINIT */

always #(HALF_PERIOD_NS) clk = ~clk;
always @(posedge clk) cycle <= cycle + 1;

reg [15:0] cfg_rd_latency = 0;
reg [15:0] cfg_wr_latency = 0;
reg [7:0]  cfg_r_gap_fixed = 0;
reg [7:0]  cfg_r_gap_prob = 0;
reg [7:0]  cfg_ar_stall = 0;
reg [7:0]  cfg_aw_stall = 0;
reg [7:0]  cfg_w_stall = 0;
reg [7:0]  cfg_b_gap_prob = 0;
reg [31:0] cfg_seed = 1;

tb_axi_mem #(
    .DATA_WIDTH(DATA_WIDTH),
    .ADDR_WIDTH(ADDR_WIDTH),
    .ID_WIDTH(ID_WIDTH),
    .CLK_PERIOD_PS(CLK_PERIOD_PS)
)
u_mem (
    .clk(clk),
    .rst(rst),
    .cycle(cycle),
    .cfg_rd_latency(cfg_rd_latency),
    .cfg_wr_latency(cfg_wr_latency),
    .cfg_r_gap_fixed(cfg_r_gap_fixed),
    .cfg_r_gap_prob(cfg_r_gap_prob),
    .cfg_ar_stall(cfg_ar_stall),
    .cfg_aw_stall(cfg_aw_stall),
    .cfg_w_stall(cfg_w_stall),
    .cfg_b_gap_prob(cfg_b_gap_prob),
    .cfg_seed(cfg_seed),
    .s_axi_awid(s_axi_awid),
    .s_axi_awaddr(s_axi_awaddr),
    .s_axi_awlen(s_axi_awlen),
    .s_axi_awsize(s_axi_awsize),
    .s_axi_awburst(s_axi_awburst),
    .s_axi_awvalid(s_axi_awvalid),
    .s_axi_wdata(s_axi_wdata),
    .s_axi_wstrb(s_axi_wstrb),
    .s_axi_wlast(s_axi_wlast),
    .s_axi_wvalid(s_axi_wvalid),
    .s_axi_bready(s_axi_bready),
    .s_axi_arid(s_axi_arid),
    .s_axi_araddr(s_axi_araddr),
    .s_axi_arlen(s_axi_arlen),
    .s_axi_arsize(s_axi_arsize),
    .s_axi_arburst(s_axi_arburst),
    .s_axi_arvalid(s_axi_arvalid),
    .s_axi_rready(s_axi_rready),
    .s_axi_awready(s_axi_awready),
    .s_axi_wready(s_axi_wready),
    .s_axi_bid(s_axi_bid),
    .s_axi_bresp(s_axi_bresp),
    .s_axi_bvalid(s_axi_bvalid),
    .s_axi_arready(s_axi_arready),
    .s_axi_rid(s_axi_rid),
    .s_axi_rdata(s_axi_rdata),
    .s_axi_rresp(s_axi_rresp),
    .s_axi_rlast(s_axi_rlast),
    .s_axi_rvalid(s_axi_rvalid)
);

tb_axil_master #(
    .ADDR_WIDTH(AXIL_ADDR_WIDTH),
    .CLK_PERIOD_PS(CLK_PERIOD_PS)
)
u_axil (
    .clk(clk),
    .rst(rst),
    .m_axil_awaddr(m_axil_awaddr),
    .m_axil_awprot(m_axil_awprot),
    .m_axil_awvalid(m_axil_awvalid),
    .m_axil_wdata(m_axil_wdata),
    .m_axil_wstrb(m_axil_wstrb),
    .m_axil_wvalid(m_axil_wvalid),
    .m_axil_bready(m_axil_bready),
    .m_axil_araddr(m_axil_araddr),
    .m_axil_arprot(m_axil_arprot),
    .m_axil_arvalid(m_axil_arvalid),
    .m_axil_rready(m_axil_rready),
    .m_axil_awready(m_axil_awready),
    .m_axil_wready(m_axil_wready),
    .m_axil_bresp(m_axil_bresp),
    .m_axil_bvalid(m_axil_bvalid),
    .m_axil_arready(m_axil_arready),
    .m_axil_rdata(m_axil_rdata),
    .m_axil_rresp(m_axil_rresp),
    .m_axil_rvalid(m_axil_rvalid),
    /* verilator lint_off PINCONNECTEMPTY */ // no clock gate in this bench
    .idle()
    /* verilator lint_on PINCONNECTEMPTY */
);

tb_xgmii_rx #(
    .CLK_PERIOD_PS(CLK_PERIOD_PS)
)
u_xgmii (
    .clk(clk),
    .rst(rst),
    .cycle(cycle),
    .xgmii_txd(xgmii_txd),
    .xgmii_txc(xgmii_txc),
    /* verilator lint_off PINCONNECTEMPTY */ // no clock gate in this bench
    .quiet()
    /* verilator lint_on PINCONNECTEMPTY */
);

tb_axi_checker #(
    .DATA_WIDTH(DATA_WIDTH),
    .ADDR_WIDTH(ADDR_WIDTH),
    .ID_WIDTH(ID_WIDTH),
    .AXIL_ADDR_WIDTH(AXIL_ADDR_WIDTH)
)
u_check (
    .clk(clk),
    .rst(rst),
    .cycle(cycle),
    .axi_awid(s_axi_awid),
    .axi_awaddr(s_axi_awaddr),
    .axi_awlen(s_axi_awlen),
    .axi_awsize(s_axi_awsize),
    .axi_awburst(s_axi_awburst),
    .axi_awlock(s_axi_awlock),
    .axi_awcache(s_axi_awcache),
    .axi_awprot(s_axi_awprot),
    .axi_awvalid(s_axi_awvalid),
    .axi_wdata(s_axi_wdata),
    .axi_wstrb(s_axi_wstrb),
    .axi_wlast(s_axi_wlast),
    .axi_wvalid(s_axi_wvalid),
    .axi_bready(s_axi_bready),
    .axi_arid(s_axi_arid),
    .axi_araddr(s_axi_araddr),
    .axi_arlen(s_axi_arlen),
    .axi_arsize(s_axi_arsize),
    .axi_arburst(s_axi_arburst),
    .axi_arlock(s_axi_arlock),
    .axi_arcache(s_axi_arcache),
    .axi_arprot(s_axi_arprot),
    .axi_arvalid(s_axi_arvalid),
    .axi_rready(s_axi_rready),
    .axi_awready(s_axi_awready),
    .axi_wready(s_axi_wready),
    .axi_bid(s_axi_bid),
    .axi_bresp(s_axi_bresp),
    .axi_bvalid(s_axi_bvalid),
    .axi_arready(s_axi_arready),
    .axi_rid(s_axi_rid),
    .axi_rdata(s_axi_rdata),
    .axi_rresp(s_axi_rresp),
    .axi_rlast(s_axi_rlast),
    .axi_rvalid(s_axi_rvalid),
    .axil_awaddr(m_axil_awaddr),
    .axil_awprot(m_axil_awprot),
    .axil_awvalid(m_axil_awvalid),
    .axil_wdata(m_axil_wdata),
    .axil_wstrb(m_axil_wstrb),
    .axil_wvalid(m_axil_wvalid),
    .axil_bready(m_axil_bready),
    .axil_araddr(m_axil_araddr),
    .axil_arprot(m_axil_arprot),
    .axil_arvalid(m_axil_arvalid),
    .axil_rready(m_axil_rready),
    .axil_awready(m_axil_awready),
    .axil_wready(m_axil_wready),
    .axil_bresp(m_axil_bresp),
    .axil_bvalid(m_axil_bvalid),
    .axil_arready(m_axil_arready),
    .axil_rdata(m_axil_rdata),
    .axil_rresp(m_axil_rresp),
    .axil_rvalid(m_axil_rvalid)
);

endmodule

`resetall
