# @TEST-DOC: A server behind a static NAT: control and GRE both use its public address consistently
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/server_static_nat.pcap $PACKAGE
# @TEST-EXEC: touch pptp.log notice.log weird.log
# @TEST-EXEC: zeek-cut -n uid < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: zeek-cut note sub msg < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: zeek-cut name addl < weird.log | grep '^pptp_' > weird.cut || true
# @TEST-EXEC: btest-diff weird.cut
