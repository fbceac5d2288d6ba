# A manager (also the logger) and two workers on this host, ports from btest's @TEST-PORT.
redef Cluster::nodes = {
	["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=to_port(getenv(
	    "BROKER_PORT1"))],
	["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=to_port(getenv(
	    "BROKER_PORT2")), $manager="manager"],
	["worker-2"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=to_port(getenv(
	    "BROKER_PORT3")), $manager="manager"],
};
