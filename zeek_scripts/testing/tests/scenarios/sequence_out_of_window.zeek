# @TEST-DOC: Stray GRE sequence numbers far from the flow's (damaged or forged copies): counted apart, never as losses; one real loss client->server
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/sequence_out_of_window.pcap $PACKAGE
# @TEST-EXEC: touch pptp.log notice.log weird.log
# @TEST-EXEC: zeek-cut -n uid < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: zeek-cut note sub msg < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: zeek-cut name addl < weird.log | grep '^pptp_' > weird.cut || true
# @TEST-EXEC: btest-diff weird.cut
