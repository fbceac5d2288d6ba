# @TEST-DOC: IP inside PPP without MPPE: Cleartext_Tunnel
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/unencrypted_session.pcap $PACKAGE
# @TEST-EXEC: grep -q 'PPTP::Cleartext_Tunnel' notice.log
