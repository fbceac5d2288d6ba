# @TEST-DOC: Without the GRE analyzer (a Zeek without Spicy, or the analyzer not built) the control channel is still logged, no GRE is counted, and one reporter line says why
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: ZEEK_PLUGIN_PATH=$PWD/no-modules zeek -C -r $TRACES/outgoing_call.pcap $PACKAGE
# @TEST-EXEC: zeek-cut call_kind client_call_id server_call_id orig_gre_pkts resp_gre_pkts gre_seen < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: zeek-cut level message < reporter.log > reporter.cut
# @TEST-EXEC: btest-diff reporter.cut
# @TEST-EXEC: test ! -e notice.log
