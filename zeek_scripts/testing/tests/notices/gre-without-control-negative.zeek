# @TEST-DOC: GRE of a call set up in the capture is not reported
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/outgoing_call.pcap $PACKAGE
# @TEST-EXEC: test ! -e notice.log || ! grep -q 'PPTP::GRE_Without_Control' notice.log
