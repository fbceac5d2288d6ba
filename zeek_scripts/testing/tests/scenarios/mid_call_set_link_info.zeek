# @TEST-DOC: A capture that starts mid-call: the call learnt from Set-Link-Info (the server's Call ID) and WAN-Error-Notify (the client's), GRE before, between and after counted to it
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/mid_call_set_link_info.pcap $PACKAGE
# @TEST-EXEC: touch pptp.log notice.log weird.log
# @TEST-EXEC: zeek-cut -n uid < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: zeek-cut note sub msg < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: zeek-cut name addl < weird.log | grep '^pptp_' > weird.cut || true
# @TEST-EXEC: btest-diff weird.cut
