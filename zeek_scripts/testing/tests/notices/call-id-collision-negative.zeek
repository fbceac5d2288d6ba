# @TEST-DOC: Two calls of one client with different Call IDs do not collide
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/two_calls.pcap $PACKAGE
# @TEST-EXEC: test ! -e notice.log || ! grep -q 'PPTP::Call_ID_Collision' notice.log
