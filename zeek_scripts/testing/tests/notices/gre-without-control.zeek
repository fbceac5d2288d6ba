# @TEST-DOC: GRE whose control connection is not in the capture
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/gre_without_control.pcap $PACKAGE
# @TEST-EXEC: grep -q 'PPTP::GRE_Without_Control' notice.log
