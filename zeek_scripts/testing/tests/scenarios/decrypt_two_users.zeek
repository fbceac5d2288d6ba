# @TEST-DOC: Two MS-CHAPv2 calls at once from two clients, each with its own user: the user of each call, and MSCHAPv2_Handshake for each
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/decrypt_two_users.pcap $PACKAGE
# @TEST-EXEC: touch pptp.log notice.log weird.log
# @TEST-EXEC: zeek-cut -n uid < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: zeek-cut note sub msg < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: zeek-cut name addl < weird.log | grep '^pptp_' > weird.cut || true
# @TEST-EXEC: btest-diff weird.cut
