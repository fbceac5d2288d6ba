# @TEST-DOC: On a cluster, GRE no node ties to a call waits as a shadow for its owner; unclaimed when call_state_timeout runs out, it is GRE without control after all
# @TEST-REQUIRES: which zeek
# @TEST-PORT: BROKER_PORT1
# @TEST-PORT: BROKER_PORT2
# @TEST-PORT: BROKER_PORT3
#
# @TEST-EXEC: btest-bg-run manager "cp $FILES/cluster-layout.zeek . && CLUSTER_NODE=manager zeek $PACKAGE %INPUT"
# @TEST-EXEC: btest-bg-run worker-1 "cp $FILES/cluster-layout.zeek . && CLUSTER_NODE=worker-1 zeek --pseudo-realtime -C -r $TRACES/gre_without_control.pcap $PACKAGE %INPUT PPTP::call_state_timeout=2sec"
# @TEST-EXEC: btest-bg-wait 60
# @TEST-EXEC: zeek-cut note < manager/notice.log | sort -u > notice.cut
# @TEST-EXEC: btest-diff notice.cut
# @TEST-EXEC: zeek-cut name < manager/weird.log | grep "^pptp_" | sort -u > weird.cut
# @TEST-EXEC: btest-diff weird.cut

redef Log::default_rotation_interval = 0secs;
redef exit_only_after_terminate = T;

global finish_test: event() &is_used;

event finish_test()
	{
	terminate();
	}

@if ( Cluster::local_node_type() == Cluster::WORKER )
event zeek_init()
	{
	suspend_processing();
	}

event Cluster::node_up(name: string, id: string)
	{
	continue_processing();
	}
@endif

global wrap_up: event() &is_used;

# The worker that raises the notice also writes it, in the logger's next batch: the manager
# stops two seconds later.
event Notice::log_notice(rec: Notice::Info)
	{
	if ( rec$note == PPTP::GRE_Without_Control )
		schedule 2sec { wrap_up() };
	}

event wrap_up()
	{
	Cluster::publish(Cluster::manager_topic, finish_test);
	schedule 1sec { finish_test() };
	}
