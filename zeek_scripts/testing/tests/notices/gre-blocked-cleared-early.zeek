# @TEST-DOC: Calls connected and cleared before the grace period ends, with no GRE: no GRE_Blocked (they were never watched long enough)
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/all_message_types.pcap $PACKAGE
# @TEST-EXEC: test ! -e notice.log || ! grep -q 'PPTP::GRE_Blocked' notice.log
# @TEST-EXEC: zeek-cut client_call_id gre_seen < pptp.log > gre_seen.cut
# @TEST-EXEC: btest-diff gre_seen.cut
