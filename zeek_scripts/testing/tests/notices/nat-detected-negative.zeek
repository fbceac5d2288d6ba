# @TEST-DOC: A NAT editor that picks other Call IDs leaves no such signature
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/nat_editor_unique_ids.pcap $PACKAGE
# @TEST-EXEC: test ! -e notice.log || ! grep -q 'PPTP::NAT_Detected' notice.log
