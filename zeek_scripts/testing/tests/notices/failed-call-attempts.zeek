# @TEST-DOC: Six refused calls from one client reach the default threshold of five
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/failed_call_attempts.pcap $PACKAGE
# @TEST-EXEC: grep -q 'PPTP::Failed_Call_Attempts' notice.log
