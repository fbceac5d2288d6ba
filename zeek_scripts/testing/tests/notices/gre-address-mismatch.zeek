# @TEST-DOC: The client's GRE comes from another address than its control connection
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/gre_address_mismatch.pcap $PACKAGE
# @TEST-EXEC: grep -q 'PPTP::GRE_Address_Mismatch' notice.log
