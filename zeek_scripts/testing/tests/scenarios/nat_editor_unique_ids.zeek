# @TEST-DOC: Two clients behind one NAT whose PPTP NAT editor gave their calls distinct Call IDs
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/nat_editor_unique_ids.pcap $PACKAGE
# @TEST-EXEC: touch pptp.log notice.log weird.log
# @TEST-EXEC: zeek-cut -n uid < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: zeek-cut note sub msg < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: zeek-cut name addl < weird.log | grep '^pptp_' > weird.cut || true
# @TEST-EXEC: btest-diff weird.cut
