# @TEST-DOC: EAP is not flagged as weak
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/incoming_call.pcap $PACKAGE
# @TEST-EXEC: test ! -e notice.log || ! grep -q 'PPTP::Weak_Authentication' notice.log
