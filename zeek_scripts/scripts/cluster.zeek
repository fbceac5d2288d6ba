##! PPTP on a Zeek cluster.
##!
##! A control connection (TCP 1723) and its GRE (IP protocol 47, no ports) are different
##! flows, so a load balancer may give them to different workers. The worker that sees the
##! control connection owns the call; GRE a worker cannot tie to a call of its own is
##! counted there in a *shadow* record (main.zeek), keyed by [source, destination, Call
##! ID], with the same GRE analysis as a call's own GRE, but raising no notices.
##!
##! When a call finishes, its owner hands the row to the manager instead of logging it.
##! The manager asks every worker for the shadows of the call's two GRE keys
##! (client→server with the server's Call ID, server→client with the client's), merges
##! what comes back into the row, then completes it (authentication, encryption, the
##! GRE_Blocked diagnosis, Weak_Authentication, MSCHAPv2_Handshake and Cleartext_Tunnel
##! for what only the shadows saw) and writes pptp.log. A call learnt from a later message
##! (its set-up not seen) is gathered the same way. It waits for an answer from every
##! worker, or ``cluster_collect_timeout``. A shadow nobody asks for within
##! ``call_state_timeout`` was GRE without control after all: its worker then raises the
##! weird and GRE_Without_Control.
##!
##! Limits: sequence analysis is exact as long as each direction of a call's GRE lands
##! on one worker (any symmetric or source/destination hash does that); GRE_Address_Mismatch,
##! Call_ID_Collision and Failed_Call_Attempts compare only what one worker sees.

@load base/frameworks/cluster
@load base/misc/version
@load ./main
@load ./gre

module PPTP;

export {
	## A direction of a call's GRE: [source, destination, Call ID in the key].
	type GreKey: record {
		src: addr;
		dst: addr;
		call_id: count;
	};

	## How long the manager waits for every worker's shadows of a finished call.
	option cluster_collect_timeout = 10sec;

	## Owner → manager: a finished call with what its owner counted.
	global call_finished: event(info: Info);

	## Manager → workers: send back the shadows of these GRE keys.
	global collect_gre: event(key: string, to_server: GreKey, to_client: GreKey);

	## Worker → manager: the shadows it had (none, one or both).
	global collected_gre: event(key: string, node: string, to_server: vector of
	    Info, to_client: vector of Info);
}

@if ( Cluster::is_enabled() )

# Cluster::publish (Zeek 7.1 and later) works with every cluster backend; Zeek 7.0 has
# only Broker::publish.
function send_call_finished(topic: string, info: Info)
	{
@if ( Version::at_least("7.1") )
	Cluster::publish(topic, PPTP::call_finished, info);
@else
	Broker::publish(topic, PPTP::call_finished, info);
@endif
	}

function send_collect_gre(topic: string, key: string, to_server: GreKey,
    to_client: GreKey)
	{
@if ( Version::at_least("7.1") )
	Cluster::publish(topic, PPTP::collect_gre, key, to_server, to_client);
@else
	Broker::publish(topic, PPTP::collect_gre, key, to_server, to_client);
@endif
	}

function send_collected_gre(key: string, to_server: vector of Info,
    to_client: vector of Info)
	{
@if ( Version::at_least("7.1") )
	Cluster::publish(Cluster::manager_topic, PPTP::collected_gre, key,
	    Cluster::node, to_server, to_client);
@else
	Broker::publish(Cluster::manager_topic, PPTP::collected_gre, key,
	    Cluster::node, to_server, to_client);
@endif
	}

## Removes and returns the shadow of a GRE key, if this worker has one.
function take_shadow(k: GreKey): vector of Info
	{
	if ( [k$src, k$dst, k$call_id] !in shadows )
		return vector();
	local shadow = forget_shadow(k$src, k$dst, k$call_id);
	fold_flows(shadow);
	return vector(shadow);
	}

event PPTP::collect_gre(key: string, to_server: GreKey, to_client: GreKey)
	{
	send_collected_gre(key, take_shadow(to_server), take_shadow(to_client));
	}

## Finished calls waiting for the manager to connect.
global unsent: vector of Info;

## Whether the manager is connected.
global manager_up = F;

hook finishing_call(info: Info)
	{
	if ( ! info?$connected_at && info$call_kind != "unseen" )
		return; # never connected: no GRE to gather
	if ( ! info?$ended_at )
		info$watched_until = last_pptp_activity();
	if ( Cluster::local_node_type() == Cluster::MANAGER )
		event PPTP::call_finished(info);
	else if ( manager_up )
		send_call_finished(Cluster::manager_topic, info);
	else
		unsent += info; # the manager is not connected yet: send it when it is
	break;
	}

event Cluster::node_up(name: string, id: string)
	{
	if ( name !in Cluster::nodes
	    || Cluster::nodes[name]$node_type != Cluster::MANAGER )
		return;
	manager_up = T;
	for ( _, info in unsent )
		send_call_finished(Cluster::manager_topic, info);
	unsent = vector();
	}

@endif

@if ( Cluster::is_enabled() && Cluster::local_node_type() == Cluster::MANAGER )

## A finished call and the workers that have answered for it.
type Gathering: record {
	info: Info;
	to_server: GreKey;
	to_client: GreKey;
	answered: set[string];
};

global gatherings: table[string] of Gathering;

global gathering_timeout: event(key: string);

function workers(): set[string]
	{
	local found: set[string];
	for ( name, node in Cluster::nodes )
		if ( node$node_type == Cluster::WORKER )
			add found[name];
	return found;
	}

## Adds a shadow's GRE to the call, in the direction its key says.
function merge(info: Info, shadow: Info, from_client: bool)
	{
	if ( from_client )
		{
		info$orig_gre_pkts += shadow$orig_gre_pkts;
		info$orig_gre_bytes += shadow$orig_gre_bytes;
		info$orig_gre_lost += shadow$orig_gre_lost;
		info$orig_gre_duplicate += shadow$orig_gre_duplicate;
		info$orig_gre_out_of_order += shadow$orig_gre_out_of_order;
		info$orig_gre_out_of_window += shadow$orig_gre_out_of_window;
		info$orig_gre_restarts += shadow$orig_gre_restarts;
		if ( shadow?$first_orig_gre
		    && ( ! info?$first_orig_gre || shadow$first_orig_gre < info$first_orig_gre ) )
			info$first_orig_gre = shadow$first_orig_gre;
		}
	else
		{
		info$resp_gre_pkts += shadow$orig_gre_pkts;
		info$resp_gre_bytes += shadow$orig_gre_bytes;
		info$resp_gre_lost += shadow$orig_gre_lost;
		info$resp_gre_duplicate += shadow$orig_gre_duplicate;
		info$resp_gre_out_of_order += shadow$orig_gre_out_of_order;
		info$resp_gre_out_of_window += shadow$orig_gre_out_of_window;
		info$resp_gre_restarts += shadow$orig_gre_restarts;
		if ( shadow?$first_orig_gre
		    && ( ! info?$first_resp_gre || shadow$first_orig_gre < info$first_resp_gre ) )
			info$first_resp_gre = shadow$first_orig_gre;
		}
	merge_findings(info, shadow);
	# A call learnt from a later message began no later than its GRE (as adopt_shadow).
	if ( info$call_kind == "unseen" && shadow?$first_orig_gre )
		{
		if ( shadow$first_orig_gre < info$call_start )
			info$call_start = shadow$first_orig_gre;
		if ( shadow$first_orig_gre < info$ts )
			info$ts = shadow$first_orig_gre;
		}
	if ( shadow?$call_end
	    && ( ! info?$call_end || shadow$call_end > info$call_end ) )
		info$call_end = shadow$call_end;
	if ( shadow?$call_end
	    && info?$watched_until
	    && shadow$call_end > info$watched_until )
		info$watched_until = shadow$call_end;
	}

## Merges what was gathered, raises the notices only shadows could see, logs the call.
function settle(key: string)
	{
	local g = gatherings[key];
	delete gatherings[key];
	local info = g$info;
	note_findings(info);
	complete(info);
	}

## A Call ID no GRE carries (theirs have 16 bits): the key of a call's side whose Call ID is
## not known (a call learnt from a message that named only the other side's).
const unknown_call_id = 0x10000;

event PPTP::call_finished(info: Info)
	{
	local server_id = info?$server_call_id ? info$server_call_id : unknown_call_id;
	local client_id = info?$client_call_id ? info$client_call_id : unknown_call_id;
	local to_server = GreKey($src=info$gre_client, $dst=info$id$resp_h,
	    $call_id=server_id);
	local to_client = GreKey($src=info$id$resp_h, $dst=info$gre_client,
	    $call_id=client_id);
	gatherings[info$call_key] = Gathering($info=info, $to_server=to_server,
	    $to_client=to_client, $answered=set());
	send_collect_gre(Cluster::worker_topic, info$call_key, to_server, to_client);
	schedule cluster_collect_timeout { PPTP::gathering_timeout(info$call_key) };
	}

event PPTP::collected_gre(key: string, node: string, to_server: vector of Info,
    to_client: vector of Info)
	{
	if ( key !in gatherings )
		return;
	local g = gatherings[key];
	for ( _, shadow in to_server )
		merge(g$info, shadow, T);
	for ( _, shadow in to_client )
		merge(g$info, shadow, F);
	add g$answered[node];
	for ( name in workers() )
		if ( name !in g$answered )
			return;
	settle(key);
	}

event PPTP::gathering_timeout(key: string)
	{
	if ( key in gatherings )
		settle(key);
	}

## A worker that connects late still gets asked about the calls being gathered.
event Cluster::node_up(name: string, id: string)
	{
	if ( name !in workers() )
		return;
	for ( key, g in gatherings )
		if ( name !in g$answered )
			send_collect_gre(Cluster::node_topic(name), key, g$to_server, g$to_client);
	}

@endif
