# @TEST-DOC: A capture that starts mid-call: the call learnt from the client's Call-Clear-Request and the server's Call-Disconnect-Notify, its earlier GRE (loss included) counted to it
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/mid_call_clear.pcap $PACKAGE
# @TEST-EXEC: touch pptp.log notice.log weird.log
# @TEST-EXEC: zeek-cut -n uid < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: zeek-cut note sub msg < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: zeek-cut name addl < weird.log | grep '^pptp_' > weird.cut || true
# @TEST-EXEC: btest-diff weird.cut
