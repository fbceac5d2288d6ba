# @TEST-DOC: Two outgoing calls on one control connection (MS-CHAPv1 and MS-CHAPv2), interleaved GRE
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/two_calls.pcap $PACKAGE
# @TEST-EXEC: touch pptp.log notice.log weird.log
# @TEST-EXEC: zeek-cut -n uid < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: zeek-cut note sub msg < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: zeek-cut name addl < weird.log | grep '^pptp_' > weird.cut || true
# @TEST-EXEC: btest-diff weird.cut
