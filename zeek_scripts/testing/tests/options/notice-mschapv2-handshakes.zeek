# @TEST-DOC: PPTP::notice_mschapv2_handshakes=F: no MSCHAPv2_Handshake, Weak_Authentication and the user all the same
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/mschapv2_mppe.pcap $PACKAGE PPTP::notice_mschapv2_handshakes=F
# @TEST-EXEC: grep -q 'PPTP::Weak_Authentication' notice.log
# @TEST-EXEC: ! grep -q 'PPTP::MSCHAPv2_Handshake' notice.log
# @TEST-EXEC: test "$(zeek-cut user < pptp.log)" = alice
