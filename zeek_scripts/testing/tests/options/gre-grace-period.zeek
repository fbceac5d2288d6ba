# @TEST-DOC: PPTP::gre_grace_period longer than the 30 s of the blocked call: still blocked (no GRE ever came), gre_seen unchanged
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/gre_blocked_server_to_client.pcap $PACKAGE PPTP::gre_grace_period=60sec
# @TEST-EXEC: zeek-cut gre_seen < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: grep -q 'PPTP::GRE_Blocked' notice.log
