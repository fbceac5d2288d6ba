# @TEST-DOC: A genuine MS-CHAPv2 login (decrypt_stateless_128): the user, Weak_Authentication and MSCHAPv2_Handshake
# @TEST-REQUIRES: which zeek
# @TEST-EXEC: zeek -C -r $TRACES/decrypt_stateless_128.pcap $PACKAGE
# @TEST-EXEC: touch pptp.log notice.log weird.log
# @TEST-EXEC: zeek-cut -n uid < pptp.log > pptp.cut
# @TEST-EXEC: btest-diff pptp.cut
# @TEST-EXEC: zeek-cut note sub msg < notice.log > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: zeek-cut name addl < weird.log | grep '^pptp_' > weird.cut || true
# @TEST-EXEC: btest-diff weird.cut
