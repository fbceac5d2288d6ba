# @TEST-DOC: An MS-CHAPv2 login seen with its Response: MSCHAPv2_Handshake names the user, the client and the server
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/mschapv2_mppe.pcap $PACKAGE
# @TEST-EXEC: grep 'PPTP::MSCHAPv2_Handshake' notice.log | grep -q "user 'alice' from client 192.0.2.10 to server 198.51.100.1"
