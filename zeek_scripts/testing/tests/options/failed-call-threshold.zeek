# @TEST-DOC: PPTP::failed_call_threshold raised above the six refusals: no notice
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/failed_call_attempts.pcap $PACKAGE PPTP::failed_call_threshold=7
# @TEST-EXEC: test ! -e notice.log || ! grep -q 'PPTP::Failed_Call_Attempts' notice.log
