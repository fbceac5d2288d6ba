# @TEST-DOC: MPPE-encrypted data is not cleartext
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/mschapv2_mppe.pcap $PACKAGE
# @TEST-EXEC: test ! -e notice.log || ! grep -q 'PPTP::Cleartext_Tunnel' notice.log
