# @TEST-DOC: A connected call is not a failed attempt
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/outgoing_call.pcap $PACKAGE
# @TEST-EXEC: test ! -e notice.log || ! grep -q 'PPTP::Failed_Call_Attempts' notice.log
