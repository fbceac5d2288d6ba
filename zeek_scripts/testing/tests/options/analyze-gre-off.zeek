# @TEST-DOC: PPTP::analyze_gre=F: the control channel is still logged, GRE is neither read nor counted
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/outgoing_call.pcap $PACKAGE PPTP::analyze_gre=F
# @TEST-EXEC: zeek-cut call_kind client_call_id server_call_id orig_gre_pkts resp_gre_pkts gre_seen < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: test ! -e notice.log
