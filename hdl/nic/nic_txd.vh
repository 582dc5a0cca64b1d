/*
 * hilnic -- the legacy transmit descriptor (e1000, 16 bytes in host memory): field offsets
 * and command/status bits, defined once. Included inside the body of the modules that read
 * a descriptor (nic_tx_frame) or write its status back (nic_wb). hilnic.hw.regs has the same
 * layout for the driver (tests/lint/test_records.py checks that they agree).
 */

/* verilator lint_off UNUSEDPARAM */ // each module uses the fields it handles

// ---- legacy transmit descriptor (e1000, 16 bytes; little-endian: byte k is bits 8k+7:8k) ----
localparam TXD_W           = 128;
localparam TXD_ADDR_LSB    = 0,   TXD_ADDR_W    = 64;  // buffer address
localparam TXD_LEN_LSB     = 64,  TXD_LEN_W     = 16;  // buffer length in bytes
localparam TXD_CSO_LSB     = 80,  TXD_CSO_W     = 8;   // checksum offset
localparam TXD_CMD_LSB     = 88,  TXD_CMD_W     = 8;   // command byte (TXD_CMD_* bits)
localparam TXD_STA_LSB     = 96,  TXD_STA_W     = 8;   // status byte (DD is written back here)
localparam TXD_CSS_LSB     = 104, TXD_CSS_W     = 8;   // checksum start
localparam TXD_SPECIAL_LSB = 112, TXD_SPECIAL_W = 16;  // VLAN tag (not used)
// bits of the command byte
localparam TXD_CMD_EOP  = 0;  // end of packet
localparam TXD_CMD_IFCS = 1;  // insert FCS
localparam TXD_CMD_IC   = 2;  // insert checksum
localparam TXD_CMD_RS   = 3;  // report status
localparam TXD_CMD_RPS  = 4;  // report packet sent (treated as RS)
localparam TXD_CMD_DEXT = 5;  // extended descriptor (below)
localparam TXD_CMD_VLE  = 6;  // VLAN enable (not implemented)
localparam TXD_CMD_IDE  = 7;  // interrupt delay enable
// bit of the status byte
localparam TXD_STA_DD   = 0;  // descriptor done

// ---- extended descriptors (CMD.DEXT): DTYP in bits 7:4 of byte 10 ----
localparam TXD_DTYP_LSB    = 84,  TXD_DTYP_W    = 4;
localparam [3:0] TXD_DTYP_CTX = 4'd0, TXD_DTYP_DATA = 4'd1;
// TCP/IP data descriptor (DTYP 1): a 20-bit length, DCMD in the command byte, POPTS in byte 13
localparam TXD_DTALEN_LSB  = 64,  TXD_DTALEN_W  = 20;
localparam TXD_POPTS_LSB   = 104, TXD_POPTS_W   = 8;
localparam TXD_CMD_TSE  = 2;  // DCMD: TCP segmentation (where a legacy descriptor has IC)
localparam TXD_POPTS_IXSM = 0;  // insert the IPv4 checksum
localparam TXD_POPTS_TXSM = 1;  // insert the TCP checksum
// TCP/IP context descriptor (DTYP 0): TUCMD in the command byte (TCP, IP, TSE, RS, DEXT, IDE)
localparam TXC_IPCSS_LSB   = 0,   TXC_IPCSS_W   = 8;   // IPv4 header start
localparam TXC_IPCSO_LSB   = 8,   TXC_IPCSO_W   = 8;   // IPv4 checksum field
localparam TXC_IPCSE_LSB   = 16,  TXC_IPCSE_W   = 16;  // IPv4 checksum end (inclusive)
localparam TXC_TUCSS_LSB   = 32,  TXC_TUCSS_W   = 8;   // TCP header start
localparam TXC_TUCSO_LSB   = 40,  TXC_TUCSO_W   = 8;   // TCP checksum field
localparam TXC_TUCSE_LSB   = 48,  TXC_TUCSE_W   = 16;  // TCP checksum end (0: to the end)
localparam TXC_PAYLEN_LSB  = 64,  TXC_PAYLEN_W  = 20;  // TCP payload bytes of a TSO packet
localparam TXC_HDRLEN_LSB  = 104, TXC_HDRLEN_W  = 8;   // header bytes of a TSO packet
localparam TXC_MSS_LSB     = 112, TXC_MSS_W     = 16;  // segment payload bytes
localparam TXC_CMD_TCP  = 0;  // TUCMD: TCP
localparam TXC_CMD_IP   = 1;  // TUCMD: IPv4
localparam TXC_CMD_TSE  = 2;  // TUCMD: TCP segmentation

/* verilator lint_on UNUSEDPARAM */
