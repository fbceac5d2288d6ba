# @TEST-DOC: The package's Spicy GRE analyzer is built and Zeek loads it: a test run without it would prove nothing about GRE
# @TEST-REQUIRES: which spicyz
# @TEST-EXEC: test -f $ZEEK_PLUGIN_PATH/pptp_gre.hlto
# @TEST-EXEC: zeek -NN | grep -q 'ANALYZER_SPICY_PPTP_GRE'
# @TEST-EXEC: zeek -b $PACKAGE %INPUT >output
# @TEST-EXEC: btest-diff output

event zeek_init() &priority=-10
	{
	print "GRE counted", PPTP::gre_counted;
	}
