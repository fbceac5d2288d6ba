# @TEST-DOC: PPTP::gre_grace_period longer than the 30 s the blocked call lasted: gre_seen unchanged, but no GRE_Blocked (the call was not watched for the whole grace period)
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/gre_blocked_server_to_client.pcap $PACKAGE PPTP::gre_grace_period=60sec
# @TEST-EXEC: zeek-cut gre_seen < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: test ! -e notice.log || ! grep -q 'PPTP::GRE_Blocked' notice.log
