/*
 * hilnic -- interrupt moderation: TIDV/TADV delay of TXDW for IDE descriptors
 * (1.024 us = 160 cycle units), ITR throttle of irq assertions (256 ns = 40 cycle units).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module nic_irq #
(
    // clock cycles per 256 ns (ITR unit)
    parameter ITR_UNIT = 40,
    // clock cycles per 1.024 us (TIDV/TADV unit)
    parameter TDV_UNIT = 160
)
(
    input  wire        clk,
    input  wire        rst,

    input  wire        wb_done,      // a write-back batch completed
    input  wire        wb_ide,       // ... and all its descriptors asked for a delayed interrupt
    input  wire [15:0] tidv,
    input  wire [15:0] tadv,
    input  wire [15:0] itr,
    output wire        txdw_set,     // set ICR.TXDW

    input  wire [31:0] icr,
    input  wire [31:0] ims,
    output wire        irq,

    /*
     * Clock gate (hdl/nic/README.md, "Gating the clock")
     */
    // nothing but the running timers can change on the next edge: no reset, no event, the
    // line settled or held low by the throttle
    output wire        quiet,
    // the timers: a delay (TIDV, TADV) runs while armed and expires at the edge where its
    // count is 1 (TXDW); the throttle runs while its count is not 0 and ends at the edge
    // where the count goes from 1 to 0
    output wire        tidv_armed,
    output wire [23:0] tidv_count,
    output wire        tadv_armed,
    output wire [23:0] tadv_count,
    output wire [21:0] itr_count,
    // edges this clock edge stands for: 1, or 1 + the edges a harness skipped while quiet
    // (fewer than the nearest running count less 1); the running timers count this many
    input  wire [23:0] step
);

/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg        txdw_set_reg = 1'b0;
reg [23:0] tidv_cnt_reg = 0;
reg        tidv_armed_reg = 1'b0;
reg [23:0] tadv_cnt_reg = 0;
reg        tadv_armed_reg = 1'b0;
reg [21:0] itr_cnt_reg = 0;
reg        irq_reg = 1'b0;
/* verilator lint_on PROCASSINIT */

assign txdw_set = txdw_set_reg;
assign irq = irq_reg;

wire pending = |(icr & ims);

// activity gate: an idle block costs one test per cycle in an event-driven simulator
wire act = rst || wb_done || txdw_set_reg || tidv_armed_reg || tadv_armed_reg || itr_cnt_reg != 0 || irq_reg != pending;

assign quiet = !rst && !wb_done && !txdw_set_reg && (irq_reg == pending || (!irq_reg && itr_cnt_reg != 0));
assign tidv_armed = tidv_armed_reg;
assign tidv_count = tidv_cnt_reg;
assign tadv_armed = tadv_armed_reg;
assign tadv_count = tadv_cnt_reg;
assign itr_count = itr_cnt_reg;

// fast path: only the ITR interval runs (the usual state under load): no event, no delay
// armed, the line settled or held low by the throttle
wire itr_only = itr_cnt_reg != 0 && !rst && !wb_done && !txdw_set_reg && !tidv_armed_reg && !tadv_armed_reg && !(irq_reg && !pending);

// the edges this one stands for: counted by every running timer (a skip ends short of an
// expiry, so the events below see what the edges in between would have left them)
wire [21:0] itr_step = step[21:0];

always @(posedge clk) begin
    if (itr_only) begin
        itr_cnt_reg <= itr_cnt_reg - itr_step;
    end else if (act) begin
    txdw_set_reg <= 1'b0;

    if (tidv_armed_reg) begin
        tidv_cnt_reg <= tidv_cnt_reg - step;
    end
    if (tadv_armed_reg) begin
        tadv_cnt_reg <= tadv_cnt_reg - step;
    end
    if ((tidv_armed_reg && tidv_cnt_reg <= 1) || (tadv_armed_reg && tadv_cnt_reg <= 1)) begin
        txdw_set_reg <= 1'b1;
        tidv_armed_reg <= 1'b0;
        tadv_armed_reg <= 1'b0;
    end

    if (wb_done) begin
        if (!wb_ide || tidv == 0) begin
            txdw_set_reg <= 1'b1;
            tidv_armed_reg <= 1'b0;
            tadv_armed_reg <= 1'b0;
        end else begin
            tidv_cnt_reg <= tidv * TDV_UNIT;
            tidv_armed_reg <= 1'b1;
            if (!tadv_armed_reg && tadv != 0) begin
                tadv_cnt_reg <= tadv * TDV_UNIT;
                tadv_armed_reg <= 1'b1;
            end
        end
    end

    // ITR throttle: an assertion starts the interval; the next rise waits for it
    if (itr_cnt_reg != 0) begin
        itr_cnt_reg <= itr_cnt_reg - itr_step;
    end
    if (!irq_reg) begin
        if (pending && itr_cnt_reg == 0) begin
            irq_reg <= 1'b1;
            itr_cnt_reg <= itr * ITR_UNIT;
        end
    end else if (!pending) begin
        irq_reg <= 1'b0;
    end

    if (rst) begin
        txdw_set_reg <= 1'b0;
        tidv_armed_reg <= 1'b0;
        tadv_armed_reg <= 1'b0;
        tidv_cnt_reg <= 0;
        tadv_cnt_reg <= 0;
        itr_cnt_reg <= 0;
        irq_reg <= 1'b0;
    end
end
end

endmodule

`resetall
