# @TEST-DOC: Echo-Requests 60 s apart are no flood
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/echo_keepalive.pcap $PACKAGE
# @TEST-EXEC: test ! -e notice.log || ! grep -q 'PPTP::Control_Message_Flood' notice.log
