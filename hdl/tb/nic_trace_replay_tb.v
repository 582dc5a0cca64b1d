/*
 * hilnic -- simulation only: replay of a recorded full-stack run without Python.
 *
 * python -m hilnic.bench.e2e_speed records what the full stack (kernel model, TCP, e1000
 * driver, peer, all in Python through hilnic.hw.bridge) did to the hardware, and this bench
 * does the same to the same harness (nic_harness, USE_PY_MEM=1: same nic_top, same
 * transactors, protocol checker and clock hold) from files, with no VPI and no Python:
 *
 * - rst released at +t_rst (1 ps after the time Python released it), clk_hold set at
 *   +t_hold (or never, t_hold < 0);
 * - MMIO (+mmio file): every access Python queued, in order, issued exactly as MmioPort
 *   issues it: cmd_* and cmd_seq deposited into tb_axil_master at max(queue time + 1 ps, the
 *   previous access's completion), the next one after done_seq has caught up. Read answers
 *   are compared with the values the full run got (mismatches counted, not fatal);
 * - DMA reads (+bursts, +beats): the k-th read request tb_axi_mem raises is answered, in the
 *   same time step (as the Python service answers), with the bytes the k-th burst got in the
 *   full run; address and length are compared (mismatches counted). Writes (descriptor
 *   write-backs) are acknowledged OKAY at once;
 * - wire (+frames): every frame tb_xgmii_rx captures is checked against the full run's frame
 *   of the same index: length, signature (sum of its little-endian 64-bit words, FCS
 *   included, so the bytes and the FCS must be the same) and start / end cycle.
 *
 * +stamp_frames: print "REPLAY_F <index>" (flushed) as each frame is checked, so the caller
 * can wall-time the same line-rate stretches as in the full run.
 *
 * +t0 / +t1: the bulk phase of the full run; REPLAY_T0 and REPLAY_T1 lines are printed (and
 * flushed) when simulated time reaches them, so the caller wall-times the same simulated
 * interval; the bench ends just after t1 with REPLAY_DONE (counts). The 1 ps offsets keep
 * every deposit after the events of a clock edge at the same time, as Python's are (Python
 * only acts in callbacks of that time step).
 */

`resetall
`timescale 1ps / 1ps
`default_nettype none

module nic_trace_replay_tb #
(
    parameter DMA_DATA_WIDTH = 128,
    parameter CLK_PERIOD_PS = 6400,
    parameter MEM_RD_LATENCY = 78,
    parameter MAX_MMIO = 4096,
    parameter MAX_BURSTS = 65536,
    parameter MAX_BEATS = 1048576,
    parameter MAX_FRAMES = 8192
);

localparam DW = DMA_DATA_WIDTH;
localparam BPC = 2048 / DW;          // beats per 2048-bit chunk of rd_buf
localparam CPS = 256 / BPC;          // chunks per read slot

wire unused_out;

nic_harness #(
    .DMA_DATA_WIDTH(DMA_DATA_WIDTH),
    .CLK_PERIOD_PS(CLK_PERIOD_PS),
    .USE_PY_MEM(1),
    .MEM_RD_LATENCY(MEM_RD_LATENCY)
)
h (
    /* verilator lint_off PINCONNECTEMPTY */ // the trace replay drives the memory side itself: these outputs are not used
    .m_axi_awid(), .m_axi_awaddr(), .m_axi_awlen(), .m_axi_awsize(), .m_axi_awburst(),
    /* verilator lint_on PINCONNECTEMPTY */
    /* verilator lint_off PINCONNECTEMPTY */ // the trace replay drives the memory side itself: these outputs are not used
    .m_axi_awlock(), .m_axi_awcache(), .m_axi_awprot(), .m_axi_awvalid(), .m_axi_awready(1'b0),
    /* verilator lint_on PINCONNECTEMPTY */
    /* verilator lint_off PINCONNECTEMPTY */ // the trace replay drives the memory side itself: these outputs are not used
    .m_axi_wdata(), .m_axi_wstrb(), .m_axi_wlast(), .m_axi_wvalid(), .m_axi_wready(1'b0),
    /* verilator lint_on PINCONNECTEMPTY */
    /* verilator lint_off PINCONNECTEMPTY */ // the trace replay drives the memory side itself: these outputs are not used
    .m_axi_bid(4'd0), .m_axi_bresp(2'd0), .m_axi_bvalid(1'b0), .m_axi_bready(),
    /* verilator lint_on PINCONNECTEMPTY */
    /* verilator lint_off PINCONNECTEMPTY */ // the trace replay drives the memory side itself: these outputs are not used
    .m_axi_arid(), .m_axi_araddr(), .m_axi_arlen(), .m_axi_arsize(), .m_axi_arburst(),
    /* verilator lint_on PINCONNECTEMPTY */
    /* verilator lint_off PINCONNECTEMPTY */ // the trace replay drives the memory side itself: these outputs are not used
    .m_axi_arlock(), .m_axi_arcache(), .m_axi_arprot(), .m_axi_arvalid(), .m_axi_arready(1'b0),
    /* verilator lint_on PINCONNECTEMPTY */
    .m_axi_rid(4'd0), .m_axi_rdata({DMA_DATA_WIDTH{1'b0}}), .m_axi_rresp(2'd0), .m_axi_rlast(1'b0),
    /* verilator lint_off PINCONNECTEMPTY */ // the trace replay drives the memory side itself: these outputs are not used
    .m_axi_rvalid(1'b0), .m_axi_rready()
    /* verilator lint_on PINCONNECTEMPTY */
);

reg [127:0]   mmio_mem  [0:MAX_MMIO-1];
reg [127:0]   burst_mem [0:MAX_BURSTS-1];
reg [DW-1:0]  beat_mem  [0:MAX_BEATS-1];
reg [255:0]   frame_mem [0:MAX_FRAMES-1];

reg [1023:0] f_mmio, f_bursts, f_beats, f_frames;
reg [63:0]   t_rst = 0, t_hold = 0, t0 = 0, t1 = 0;
reg          hold_on = 0;
integer      n_mmio = 0, n_bursts = 0, n_beats = 0, n_frames = 0;
reg          loaded = 0;
reg          stamp_frames = 0;  // +stamp_frames: a REPLAY_F <index> line per frame (wall stamps)

// ---- MMIO -------------------------------------------------------------------------------------
integer      mi = 0;
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [127:0]  ment;
/* verilator lint_on UNUSEDSIGNAL */
reg [63:0]   mt;
reg [31:0]   mseq = 0;
integer      mmio_done = 0;
integer      mmio_rd_mismatch = 0;

// ---- DMA --------------------------------------------------------------------------------------
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [31:0]   rd_seen = 0;
reg [31:0]   wr_seen = 0;
integer      nb = 0;
integer      rd_addr_mismatch = 0;
integer      rd_extra = 0;
integer      wr_bursts = 0;
/* verilator lint_on PROCASSINIT */
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [127:0]  bent;
/* verilator lint_on UNUSEDSIGNAL */
reg [63:0]   r_addr;
reg [15:0]   r_beats;
reg [31:0]   r_word;
reg [1:0]    r_resp;
reg [7:0]    r_slot;
reg [2047:0] chunk;
integer      c, b;
reg [31:0]   bw;

always @(h.g_py_mem.u_mem.rd_req_seq) begin
    if (loaded && h.g_py_mem.u_mem.rd_req_seq != rd_seen) begin
        rd_seen = h.g_py_mem.u_mem.rd_req_seq;
        r_addr = h.g_py_mem.u_mem.rd_req_addr;
        /* verilator lint_off WIDTHEXPAND */ // testbench arithmetic: the implicit extension is intended and the values fit
        r_beats = h.g_py_mem.u_mem.rd_req_len + 1;
        /* verilator lint_on WIDTHEXPAND */
        /* verilator lint_off WIDTHEXPAND */ // testbench arithmetic: the implicit extension is intended and the values fit
        r_slot = h.g_py_mem.u_mem.rd_req_slot;
        /* verilator lint_on WIDTHEXPAND */
        if (nb < n_bursts) begin
            bent = burst_mem[nb];
            if (bent[127:64] != r_addr || bent[31:16] != r_beats) begin
                rd_addr_mismatch = rd_addr_mismatch + 1;
                if (rd_addr_mismatch <= 4)
                    $display("REPLAY_RD_MISMATCH burst=%0d addr=%h beats=%0d exp_addr=%h exp_beats=%0d t=%0d",
                             nb, r_addr, r_beats, bent[127:64], bent[31:16], $time);
            end
            r_word = bent[63:32];
            r_resp = bent[1:0];
        end else begin
            rd_extra = rd_extra + 1;
            r_word = 0;
            r_resp = 2'd0;
        end
        for (c = 0; c * BPC < r_beats; c = c + 1) begin
            if (BPC == 16 && nb < n_bursts) begin
                // one statement instead of 16 variable part-selects (each costs about as much
                // as this whole concatenation on Icarus); in a burst's last chunk the beats
                // past its end get the next burst's data instead of zeros: tb_axi_mem never
                // plays them
                bw = r_word + c * BPC;
                chunk = {beat_mem[bw + 15], beat_mem[bw + 14], beat_mem[bw + 13], beat_mem[bw + 12],
                         beat_mem[bw + 11], beat_mem[bw + 10], beat_mem[bw + 9], beat_mem[bw + 8],
                         beat_mem[bw + 7], beat_mem[bw + 6], beat_mem[bw + 5], beat_mem[bw + 4],
                         beat_mem[bw + 3], beat_mem[bw + 2], beat_mem[bw + 1], beat_mem[bw]};
            end else begin
                chunk = 0;
                for (b = 0; b < BPC; b = b + 1)
                    if (c * BPC + b < r_beats && nb < n_bursts)
                        chunk[b * DW +: DW] = beat_mem[r_word + c * BPC + b];
            end
            h.g_py_mem.u_mem.rd_buf[r_slot * CPS + c] = chunk;
        end
        nb = nb + 1;
        h.g_py_mem.u_mem.rd_ack_resp = r_resp;
        h.g_py_mem.u_mem.rd_ack_seq = rd_seen;
    end
end

always @(h.g_py_mem.u_mem.wr_req_seq) begin
    if (loaded && h.g_py_mem.u_mem.wr_req_seq != wr_seen) begin
        wr_seen = h.g_py_mem.u_mem.wr_req_seq;
        wr_bursts = wr_bursts + 1;
        h.g_py_mem.u_mem.wr_ack_resp = 2'd0;
        h.g_py_mem.u_mem.wr_ack_seq = wr_seen;
    end
end

// ---- wire -------------------------------------------------------------------------------------
/* verilator lint_off PROCASSINIT */ // power-up values: simulation starts from them before the first reset (both simulators)
reg [31:0]   fr_seen = 0;
integer      nf = 0;
integer      fr_sig_ok = 0;
integer      fr_time_ok = 0;
integer      fr_bad = 0;
integer      fr_extra = 0;
reg [63:0]   max_dev = 0;
/* verilator lint_on PROCASSINIT */
reg [31:0]   f_len;
reg [63:0]   f_sig;
reg [2047:0] f_chunk;
/* verilator lint_off UNUSEDSIGNAL */ // read or driven by Python through VPI, shown in waveforms, or a bus port this bench does not use
reg [255:0]  fent;
/* verilator lint_on UNUSEDSIGNAL */
reg [63:0]   dev;
integer      w;

always @(h.u_xgmii.fr_seq) begin
    if (loaded && h.u_xgmii.fr_seq != fr_seen) begin
        fr_seen = h.u_xgmii.fr_seq;
        f_len = h.u_xgmii.fr_len;
        // sum of the frame's little-endian 64-bit words (the last one cut at f_len): per
        // 256-byte chunk, the bytes past the end cleared, then its 32 words summed with
        // constant part-selects (one statement per chunk, not one loop pass per word)
        f_sig = 0;
        for (w = 0; w * 256 < f_len; w = w + 1) begin
            f_chunk = h.u_xgmii.fr_buf[w];
            if ((w + 1) * 256 > f_len)
                f_chunk = f_chunk & ~({2048{1'b1}} << (8 * (f_len - w * 256)));
            f_sig = f_sig + f_chunk[63:0] + f_chunk[127:64] + f_chunk[191:128] + f_chunk[255:192]
                    + f_chunk[319:256] + f_chunk[383:320] + f_chunk[447:384] + f_chunk[511:448]
                    + f_chunk[575:512] + f_chunk[639:576] + f_chunk[703:640] + f_chunk[767:704]
                    + f_chunk[831:768] + f_chunk[895:832] + f_chunk[959:896] + f_chunk[1023:960]
                    + f_chunk[1087:1024] + f_chunk[1151:1088] + f_chunk[1215:1152] + f_chunk[1279:1216]
                    + f_chunk[1343:1280] + f_chunk[1407:1344] + f_chunk[1471:1408] + f_chunk[1535:1472]
                    + f_chunk[1599:1536] + f_chunk[1663:1600] + f_chunk[1727:1664] + f_chunk[1791:1728]
                    + f_chunk[1855:1792] + f_chunk[1919:1856] + f_chunk[1983:1920] + f_chunk[2047:1984];
        end
        if (nf < n_frames) begin
            fent = frame_mem[nf];
            if (fent[255:192] == f_sig && fent[191:160] == f_len && h.u_xgmii.fr_err == 0)
                fr_sig_ok = fr_sig_ok + 1;
            else begin
                fr_bad = fr_bad + 1;
                if (fr_bad <= 4)
                    $display("REPLAY_BADFRAME frame=%0d len=%0d exp_len=%0d sig=%h exp_sig=%h err=%h",
                             nf, f_len, fent[191:160], f_sig, fent[255:192], h.u_xgmii.fr_err);
            end
            if (fent[127:64] == h.u_xgmii.fr_start_cycle && fent[63:0] == h.u_xgmii.fr_end_cycle)
                fr_time_ok = fr_time_ok + 1;
            dev = h.u_xgmii.fr_start_cycle > fent[127:64] ? h.u_xgmii.fr_start_cycle - fent[127:64]
                                                           : fent[127:64] - h.u_xgmii.fr_start_cycle;
            if (dev > max_dev)
                max_dev = dev;
        end else
            fr_extra = fr_extra + 1;
        if (stamp_frames) begin
            $display("REPLAY_F %0d", nf);
            $fflush;
        end
        nf = nf + 1;
    end
end

// ---- the script ---------------------------------------------------------------------------------
initial begin
    if (!$value$plusargs("mmio=%s", f_mmio) || !$value$plusargs("bursts=%s", f_bursts)
            || !$value$plusargs("beats=%s", f_beats) || !$value$plusargs("frames=%s", f_frames)
            || !$value$plusargs("n_mmio=%d", n_mmio) || !$value$plusargs("n_bursts=%d", n_bursts)
            || !$value$plusargs("n_beats=%d", n_beats) || !$value$plusargs("n_frames=%d", n_frames)
            || !$value$plusargs("t_rst=%d", t_rst) || !$value$plusargs("t0=%d", t0)
            || !$value$plusargs("t1=%d", t1)) begin
        $display("REPLAY_ERROR missing plusargs (+mmio +bursts +beats +frames +n_* +t_rst +t0 +t1)");
        $finish;
    end
    hold_on = $value$plusargs("t_hold=%d", t_hold);
    stamp_frames = $test$plusargs("stamp_frames");
    if (n_mmio > MAX_MMIO || n_bursts > MAX_BURSTS || n_beats > MAX_BEATS || n_frames > MAX_FRAMES) begin
        $display("REPLAY_ERROR trace larger than the MAX_* parameters");
        $finish;
    end
    if (n_mmio > 0) $readmemh(f_mmio, mmio_mem, 0, n_mmio - 1);
    if (n_bursts > 0) $readmemh(f_bursts, burst_mem, 0, n_bursts - 1);
    if (n_beats > 0) $readmemh(f_beats, beat_mem, 0, n_beats - 1);
    if (n_frames > 0) $readmemh(f_frames, frame_mem, 0, n_frames - 1);
    loaded = 1;
    fork
        begin : rst_release
            /* verilator lint_off ZERODLY */ // delay computed at run time by the clock hold (exact timing, unchanged on purpose)
            #(t_rst + 1 - $time);
            /* verilator lint_on ZERODLY */
            h.rst = 1'b0;
        end
        begin : hold_set
            if (hold_on) begin
                /* verilator lint_off ZERODLY */ // delay computed at run time by the clock hold (exact timing, unchanged on purpose)
                #(t_hold + 1 - $time);
                /* verilator lint_on ZERODLY */
                h.clk_hold = 1'b1;
            end
        end
        begin : mmio_script
            for (mi = 0; mi < n_mmio; mi = mi + 1) begin
                ment = mmio_mem[mi];
                mt = ment[127:64] + 1;
                if (mt > $time)
                    /* verilator lint_off ZERODLY */ // delay computed at run time by the clock hold (exact timing, unchanged on purpose)
                    #(mt - $time);
                    /* verilator lint_on ZERODLY */
                h.u_axil.cmd_write = ment[32];
                h.u_axil.cmd_addr = ment[63:48];
                h.u_axil.cmd_data = ment[31:0];
                h.u_axil.cmd_strb = ment[47:44];
                mseq = mseq + 1;
                h.u_axil.cmd_seq = mseq;
                wait (h.u_axil.done_seq == mseq);
                if (!ment[32] && h.u_axil.done_rdata != ment[31:0])
                    mmio_rd_mismatch = mmio_rd_mismatch + 1;
                mmio_done = mmio_done + 1;
            end
        end
        begin : phases
            /* verilator lint_off ZERODLY */ // delay computed at run time by the clock hold (exact timing, unchanged on purpose)
            #(t0 - $time);
            /* verilator lint_on ZERODLY */
            $display("REPLAY_T0 frames=%0d cycle=%0d", nf, h.cycle);
            $fflush;
            /* verilator lint_off ZERODLY */ // delay computed at run time by the clock hold (exact timing, unchanged on purpose)
            #(t1 + 1 - $time);
            /* verilator lint_on ZERODLY */
            $display("REPLAY_T1 frames=%0d cycle=%0d", nf, h.cycle);
            $fflush;
            $display("REPLAY_DONE frames=%0d exp_frames=%0d sig_ok=%0d time_ok=%0d bad=%0d extra=%0d max_dev=%0d mmio_done=%0d mmio_rd_mismatch=%0d rd_bursts=%0d rd_mismatch=%0d rd_extra=%0d wr_bursts=%0d cycle=%0d skipped=%0d axi_err=%0d xgmii_err=%0d",
                     nf, n_frames, fr_sig_ok, fr_time_ok, fr_bad, fr_extra, max_dev, mmio_done,
                     mmio_rd_mismatch, nb, rd_addr_mismatch, rd_extra, wr_bursts, h.cycle,
                     h.clk_skipped, h.u_check.err_count, h.u_xgmii.err_count);
            $fflush;
            $finish;
        end
    join
end

endmodule

`resetall
