# @TEST-DOC: pptpd and pptp-linux: a second client waits for pptpd's one connection (testdata/real)
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -r $REAL_TRACES/connection_limit.pcap $PACKAGE
# @TEST-EXEC: touch pptp.log notice.log weird.log
# Not the timing columns, which differ between captures of the same scenario.
# @TEST-EXEC: zeek-cut id.orig_h id.resp_h call_kind client_call_id server_call_id call_result disconnect_result stop_reason gre_client orig_gre_pkts orig_gre_bytes resp_gre_pkts resp_gre_bytes orig_gre_lost orig_gre_duplicate orig_gre_out_of_order resp_gre_lost resp_gre_duplicate resp_gre_out_of_order ppp_protocols auth user encrypted gre_seen < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: zeek-cut note sub msg < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: zeek-cut name addl < weird.log | grep '^pptp_' > weird.cut || true
# @TEST-EXEC: btest-diff weird.cut
