# @TEST-DOC: CHAP-MD5 is weak: Weak_Authentication
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/outgoing_call.pcap $PACKAGE
# @TEST-EXEC: grep -q 'PPTP::Weak_Authentication' notice.log
