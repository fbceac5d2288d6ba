# @TEST-DOC: Two clients behind a Linux NAT: its PPTP helper set each Call ID to the TCP source port
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/nat_editor_linux.pcap $PACKAGE
# @TEST-EXEC: touch pptp.log notice.log weird.log
# @TEST-EXEC: zeek-cut -n uid < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: zeek-cut note sub msg < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: zeek-cut name addl < weird.log | grep '^pptp_' > weird.cut || true
# @TEST-EXEC: btest-diff weird.cut
