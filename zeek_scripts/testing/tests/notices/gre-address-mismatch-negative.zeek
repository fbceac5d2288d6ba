# @TEST-DOC: A server behind a static NAT uses its public address consistently
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/server_static_nat.pcap $PACKAGE
# @TEST-EXEC: test ! -e notice.log || ! grep -q 'PPTP::GRE_Address_Mismatch' notice.log
