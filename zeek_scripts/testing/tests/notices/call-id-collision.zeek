# @TEST-DOC: Two clients behind one NAT use the same Call ID
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/nat_call_id_collision.pcap $PACKAGE
# @TEST-EXEC: grep -q 'PPTP::Call_ID_Collision' notice.log
