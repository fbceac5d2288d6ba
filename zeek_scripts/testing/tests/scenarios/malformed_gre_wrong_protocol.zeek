# @TEST-DOC: GRE version 1 with protocol 0x0800 (IPv4) instead of 0x880B
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/malformed_gre_wrong_protocol.pcap $PACKAGE
# @TEST-EXEC: touch pptp.log notice.log weird.log
# @TEST-EXEC: zeek-cut -n uid < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: zeek-cut note sub msg < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: zeek-cut name addl < weird.log | grep '^pptp_' > weird.cut || true
# @TEST-EXEC: btest-diff weird.cut
