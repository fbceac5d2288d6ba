# @TEST-DOC: GRE that restarts with the same Call IDs: the server's numbers jump far ahead and go on from there (a peer's reboot), and after 120 s of silence the client's start again from 0 (a reconnect reusing them); each episode has its own loss, none is a duplicate
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/sequence_restart.pcap $PACKAGE
# @TEST-EXEC: touch pptp.log notice.log weird.log
# @TEST-EXEC: zeek-cut -n uid < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: zeek-cut note sub msg < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: zeek-cut name addl < weird.log | grep '^pptp_' > weird.cut || true
# @TEST-EXEC: btest-diff weird.cut
