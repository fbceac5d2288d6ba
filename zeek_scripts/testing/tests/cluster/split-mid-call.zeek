# @TEST-DOC: A cluster where one worker sees only the control connection of a capture that starts mid-call and another only its GRE: the learnt call's row and notices equal a single Zeek's
# @TEST-REQUIRES: which zeek
# @TEST-PORT: BROKER_PORT1
# @TEST-PORT: BROKER_PORT2
# @TEST-PORT: BROKER_PORT3
#
# @TEST-EXEC: zeek -C -r $TRACES/mid_call_clear.pcap $PACKAGE
# @TEST-EXEC: touch notice.log
# Sets print in no fixed order, and --pseudo-realtime moves the clock: not ts, nor the
# duration, which here runs from one worker's GRE to the other's control message.
# @TEST-EXEC: zeek-cut -n uid ts duration ppp_protocols < pptp.log > single.cut
# @TEST-EXEC: zeek-cut ppp_protocols < pptp.log | tr , '\n' | sort >> single.cut
# @TEST-EXEC: zeek-cut note sub msg < notice.log > single-notices.cut
#
# The GRE worker reads its part first; the control worker starts once it is done.
# @TEST-EXEC: btest-bg-run manager "cp $FILES/cluster-layout.zeek . && CLUSTER_NODE=manager zeek $PACKAGE %INPUT"
# @TEST-EXEC: btest-bg-run worker-2 "cp $FILES/cluster-layout.zeek . && CLUSTER_NODE=worker-2 zeek --pseudo-realtime -C -r $TRACES/mid_call_clear.pcap -f 'ip proto 47' $PACKAGE %INPUT"
# @TEST-EXEC: for i in $(seq 300); do test -e worker-2/gre-read && break; sleep 0.1; done; test -e worker-2/gre-read
# @TEST-EXEC: btest-bg-run worker-1 "cp $FILES/cluster-layout.zeek . && CLUSTER_NODE=worker-1 zeek --pseudo-realtime -C -r $TRACES/mid_call_clear.pcap -f 'tcp port 1723' $PACKAGE %INPUT"
# @TEST-EXEC: btest-bg-wait 60
#
# @TEST-EXEC: zeek-cut -n uid ts duration ppp_protocols < manager/pptp.log > cluster.cut
# @TEST-EXEC: zeek-cut ppp_protocols < manager/pptp.log | tr , '\n' | sort >> cluster.cut
# @TEST-EXEC: touch manager/notice.log
# @TEST-EXEC: zeek-cut note sub msg < manager/notice.log > cluster-notices.cut
# @TEST-EXEC: diff single.cut cluster.cut
# @TEST-EXEC: diff single-notices.cut cluster-notices.cut
# @TEST-EXEC: btest-diff cluster.cut

redef Log::default_rotation_interval = 0secs;
# Every node stays up until the manager has logged the call.
redef exit_only_after_terminate = T;

global finish_test: event() &is_used;
global gre_read: event() &is_used;

event finish_test()
	{
	terminate();
	}

event gre_read()
	{
	system("touch gre-read");
	}

@if ( Cluster::local_node_type() == Cluster::WORKER )
# Packets only once the manager is connected: nothing a worker sends may be lost.
event zeek_init()
	{
	suspend_processing();
	}

event Cluster::node_up(name: string, id: string)
	{
	if ( name != "manager" )
		return;
	continue_processing();
	if ( Cluster::node == "worker-2" )
		schedule 2sec { gre_read() };
	}
@endif

@if ( Cluster::local_node_type() == Cluster::MANAGER )
event PPTP::log_pptp(rec: PPTP::Info)
	{
	Cluster::publish(Cluster::worker_topic, finish_test);
	schedule 1sec { finish_test() };
	}
@endif
