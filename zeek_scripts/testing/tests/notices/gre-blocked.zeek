# @TEST-DOC: Only the client's GRE is seen: GRE_Blocked
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/gre_blocked_server_to_client.pcap $PACKAGE
# @TEST-EXEC: grep -q 'PPTP::GRE_Blocked' notice.log
