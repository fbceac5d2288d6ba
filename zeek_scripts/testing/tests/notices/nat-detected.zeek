# @TEST-DOC: Call IDs equal to the TCP source ports: the Linux PPTP NAT helper
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/nat_editor_linux.pcap $PACKAGE
# @TEST-EXEC: grep -q 'PPTP::NAT_Detected' notice.log
