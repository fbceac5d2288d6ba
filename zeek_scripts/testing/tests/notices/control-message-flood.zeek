# @TEST-DOC: 30 Echo-Requests in one segment: Control_Message_Flood
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/echo_flood.pcap $PACKAGE
# @TEST-EXEC: grep -q 'PPTP::Control_Message_Flood' notice.log
