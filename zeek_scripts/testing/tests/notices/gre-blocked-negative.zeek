# @TEST-DOC: GRE both ways within the grace period: no GRE_Blocked
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/outgoing_call.pcap $PACKAGE
# @TEST-EXEC: test ! -e notice.log || ! grep -q 'PPTP::GRE_Blocked' notice.log
