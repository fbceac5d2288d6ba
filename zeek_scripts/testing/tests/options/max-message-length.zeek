# @TEST-DOC: PPTP::max_message_length below the 156-octet Start-Control-Connection-Request: framing is given up with a weird, nothing else breaks
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/outgoing_call.pcap $PACKAGE PPTP::max_message_length=100
# @TEST-EXEC: zeek-cut name addl < weird.log | grep '^pptp_' > weird.cut
# @TEST-EXEC: btest-diff weird.cut
# @TEST-EXEC: test ! -e reporter.log
