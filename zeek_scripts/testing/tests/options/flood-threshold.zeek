# @TEST-DOC: PPTP::flood_threshold above the 30 packed Echo-Requests: no notice
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/echo_flood.pcap $PACKAGE PPTP::flood_threshold=31
# @TEST-EXEC: test ! -e notice.log || ! grep -q 'PPTP::Control_Message_Flood' notice.log
