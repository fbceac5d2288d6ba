# @TEST-DOC: Two clients whose server gave both calls Call ID 0: each client's GRE stays with its call
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/shared_server_call_id.pcap $PACKAGE
# @TEST-EXEC: touch pptp.log notice.log weird.log
# @TEST-EXEC: zeek-cut -n uid < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: zeek-cut note sub msg < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: zeek-cut name addl < weird.log | grep '^pptp_' > weird.cut || true
# @TEST-EXEC: btest-diff weird.cut
