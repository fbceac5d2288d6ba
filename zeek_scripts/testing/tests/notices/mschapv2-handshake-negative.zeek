# @TEST-DOC: A CHAP-MD5 login is weak, but no MS-CHAPv2 handshake
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/outgoing_call.pcap $PACKAGE
# @TEST-EXEC: grep -q 'PPTP::Weak_Authentication' notice.log
# @TEST-EXEC: ! grep -q 'PPTP::MSCHAPv2_Handshake' notice.log
