##! PPTP on a Zeek cluster.
##!
##! A control connection (TCP 1723) and its GRE (IP protocol 47, no ports) are different
##! flows, so a load balancer may give them to different workers. The worker that sees the
##! control connection owns the call; GRE a worker cannot tie to a call of its own is
##! counted there in a *shadow* record, keyed by [source, destination, Call ID], with the
##! same GRE analysis as a call's own GRE, but raising no notices.
##!
##! When a call finishes, its owner hands the row to the manager instead of logging it.
##! The manager asks every worker for the shadows of the call's two GRE keys
##! (client→server with the server's Call ID, server→client with the client's), merges
##! what comes back into the row, then completes it (authentication, encryption, the
##! GRE_Blocked diagnosis, Weak_Authentication, MSCHAPv2_Handshake and Cleartext_Tunnel
##! for what only the shadows saw) and writes pptp.log. It waits for an answer from every worker, or
##! ``cluster_collect_timeout``. A shadow nobody asks for within ``call_state_timeout``
##! was GRE without control after all: its worker then raises the weird and
##! GRE_Without_Control.
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

## Drops the link of a shadow, unless a call has taken the key over since.
function forget_shadow_link(src: addr, dst: addr, call_id: count, shadow: Info)
	{
	if ( [src, dst, call_id] in gre_links
	    && gre_links[src, dst, call_id]$info$call_key == shadow$call_key )
		delete gre_links[src, dst, call_id];
	}

## Expires a shadow nobody claimed: GRE without control after all.
function shadow_expired(t: table[addr, addr, count] of Info, src: addr,
    dst: addr, call_id: count): interval
	{
	fold_flows(t[src, dst, call_id]);
	forget_shadow_link(src, dst, call_id, t[src, dst, call_id]);
	gre_without_control(src, dst, call_id);
	return 0secs;
	}

## Shadows of GRE this worker could not tie to a call of its own.
global shadows: table[addr, addr, count] of Info
    &create_expire=call_state_timeout &expire_func=shadow_expired;

hook gre_without_call(src: addr, dst: addr, call_id: count)
	{
	local shadow = Info($ts=network_time(), $uid="", $id=conn_id($orig_h=src,
	    $orig_p=0/unknown, $resp_h=dst, $resp_p=0/unknown), $shadow=T,
	    $call_key=fmt("shadow/%s/%s/%d", src, dst, call_id));
	shadows[src, dst, call_id] = shadow;
	# A shadow counts its packets as coming from the client; the manager knows better.
	gre_links[src, dst, call_id] = GreLink($info=shadow, $from_client=T);
	break;
	}

## Removes and returns the shadow of a GRE key, if this worker has one.
function take_shadow(k: GreKey): vector of Info
	{
	if ( [k$src, k$dst, k$call_id] !in shadows )
		return vector();
	local shadow = shadows[k$src, k$dst, k$call_id];
	delete shadows[k$src, k$dst, k$call_id];
	forget_shadow_link(k$src, k$dst, k$call_id, shadow);
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
	if ( ! info?$connected_at )
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
		if ( shadow?$first_orig_gre
		    && ( ! info?$first_resp_gre || shadow$first_orig_gre < info$first_resp_gre ) )
			info$first_resp_gre = shadow$first_orig_gre;
		}
	merge_findings(info, shadow);
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

event PPTP::call_finished(info: Info)
	{
	local to_server = GreKey($src=info$gre_client, $dst=info$id$resp_h,
	    $call_id=info$server_call_id);
	local to_client = GreKey($src=info$id$resp_h, $dst=info$gre_client,
	    $call_id=info$client_call_id);
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
