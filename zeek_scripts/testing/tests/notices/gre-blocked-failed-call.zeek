# @TEST-DOC: Refused calls never carry GRE and are not diagnosed
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/failed_call_attempts.pcap $PACKAGE
# @TEST-EXEC: test ! -e notice.log || ! grep -q 'PPTP::GRE_Blocked' notice.log
