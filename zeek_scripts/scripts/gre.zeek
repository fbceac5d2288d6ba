##! Enhanced GRE (RFC 2637 §4) of PPTP calls, read by the package's Spicy packet analyzer
##! (``analyzer/`` beside these scripts, compiled when the package is installed). It sits
##! between Zeek's IP analyzer and Zeek's own GRE analyzer for IP protocol 47 and hands every
##! packet on unchanged, so Zeek's GRE tunnel handling stays as it is, and no other traffic
##! pays anything. It counts GRE in *flows*, one per direction of a call ([source,
##! destination, Call ID]), with sequence analysis, in compiled code. Scripts hear of a flow
##! when it begins and of each finding in it (a PPP protocol, the authentication LCP settles
##! on, the user name an authentication packet carries, MPPE), never of an ordinary packet,
##! and read its counters from its ``GreFlow`` record when they log the call. GRE no call
##! claims waits in a shadow (main.zeek) for a call learnt from a later control message
##! while it flows; one nobody claims is reported as GRE without control, with its counts,
##! once it has paused for ``unclaimed_gre_timeout`` (or at the end of the run), each time
##! it pauses so. The two directions of such GRE that the analyzer pairs (one direction's
##! acknowledgments acknowledge the other's numbers) are one tunnel learnt from GRE alone:
##! one ``pptp.log`` row, call_kind "gre_only".
##!
##! Without the analyzer (a Zeek built without Spicy, or the package's analyzer not built)
##! the control channel is analyzed and logged all the same, no GRE is counted, and one
##! reporter info message says why.

@load base/frameworks/reporter
@load ./main

module PPTP;

export {
	## The acceptance window of sequence analysis: a number within this many of the
	## highest confirmed number of a flow counts as lost, late or duplicate; a farther one
	## is a stray, counted out of window, unless the next packet continues from it (a
	## restart). Read when a flow begins.
	option sequence_window = 3000;

	## The analyzer saw the first packet of a GRE flow.
	global gre_flow_begin: event(flow: GreFlow);

	## The analyzer paired two flows of opposite directions, neither paired before:
	## ``flow``'s packet acknowledged a number ``peer`` sent.
	global gre_flows_paired: event(flow: GreFlow, peer: GreFlow);

	## The first packet of a PPP protocol in a flow.
	global gre_ppp_protocol: event(src: addr, dst: addr, call_id: count,
	    protocol: count);

	## An LCP Configure-Ack settled on an authentication protocol.
	global gre_authentication: event(src: addr, dst: addr, call_id: count,
	    auth: string);

	## A CCP Configure-Ack settled on MPPE.
	global gre_mppe_negotiated: event(src: addr, dst: addr, call_id: count);

	## A user name: the Peer-ID of a PAP Authenticate-Request, the Name of a CHAP
	## Response (MS-CHAP's too) or the identity of an EAP Response/Identity, as
	## ``protocol`` (0xC023, 0xC223 or 0xC227) carries it; a flow's first of each.
	global gre_identity: event(src: addr, dst: addr, call_id: count,
	    protocol: count, name: string);
}

# Each restart of a flow's numbers is a finding of its own: Zeek's weird framework would
# log only the first of a flow's.
redef Weird::weird_do_not_ignore_repeats += {"pptp_gre_restart"};

## Zeek's name of the package's GRE analyzer (``spicy::PPTP_GRE`` in pptp_gre.evt).
const analyzer_name = "spicy_PPTP_GRE";

## IP protocol number of GRE, and the identifier under which Zeek's own GRE analyzer follows
## ours.
const ip_proto_gre = 47;

## Why GRE is not counted, for the one reporter message that says so.
const analyzer_missing =
    "the package's Spicy analyzer (pptp_gre.hlto) is not loaded; "
    + "zkg builds it when it installs the package";
const spicy_missing =
    "this Zeek was built without Spicy, which the package's GRE "
    + "analyzer needs";

## The analyzer is part of this Zeek's packet analysis.
global analyzer_loaded = F;

## A given-up shadow's counts, as GRE_Without_Control gives them.
function shadow_counts(src: addr, dst: addr, call_id: count, shadow: Info)
    : string
	{
	local flow = fmt("%s to %s Call ID %d", src, dst, call_id);
	local volume = fmt("%d packets (%d PPP octets)", shadow$orig_gre_pkts,
	    shadow$orig_gre_bytes);
	local sequence = fmt("%d lost, %d duplicate, %d out of order, %d out of window, %d restarts",
	    shadow$orig_gre_lost, shadow$orig_gre_duplicate,
	    shadow$orig_gre_out_of_order, shadow$orig_gre_out_of_window,
	    shadow$orig_gre_restarts);
	return fmt("%s: %s, %s", flow, volume, sequence);
	}

## The shadows from ``src`` to ``dst``, given up (each with its weird) and added to
## ``gone`` in the order of their Call IDs.
function give_up_direction(src: addr, dst: addr, gone: vector of Info)
	{
	if ( [src, dst] !in shadow_ids )
		return;
	local ids: vector of count = vector();
	for ( call_id in shadow_ids[src, dst] )
		ids += call_id;
	sort(ids);
	for ( _, call_id in ids )
		{
		local shadow = forget_shadow(src, dst, call_id);
		fold_flows(shadow);
		Reporter::flow_weird("pptp_gre_without_call", src, dst, cat(call_id));
		gone += shadow;
		}
	}

## The pptp.log row of a tunnel learnt from GRE alone: the shadows of its two directions,
## ``first`` the one whose GRE began first, taken as the client's.
function log_tunnel(first: Info, second: Info)
	{
	local row = copy(first);
	row$call_kind = "gre_only";
	row$gre_client = first$id$orig_h;
	row$client_call_id = second$server_call_id;
	row$call_start = first$ts;
	row$resp_gre_pkts = second$orig_gre_pkts;
	row$resp_gre_bytes = second$orig_gre_bytes;
	row$resp_gre_lost = second$orig_gre_lost;
	row$resp_gre_duplicate = second$orig_gre_duplicate;
	row$resp_gre_out_of_order = second$orig_gre_out_of_order;
	row$resp_gre_out_of_window = second$orig_gre_out_of_window;
	row$resp_gre_restarts = second$orig_gre_restarts;
	if ( second?$call_end
	    && ( ! row?$call_end || second$call_end > row$call_end ) )
		row$call_end = second$call_end;
	merge_findings(row, second);
	complete(row);
	}

## Orders shadows as their GRE began.
function by_start(a: Info, b: Info): int
	{
	if ( a$ts != b$ts )
		return a$ts < b$ts ? -1 : 1;
	return a$call_key < b$call_key ? -1 : ( a$call_key > b$call_key ? 1 : 0 );
	}

## The notice for GRE without control between two addresses, with the counts of each flow
## given up (``gone``, one episode of each: GRE that comes again after it is given up is
## reported again), in the order their GRE began; the two directions of a tunnel are named
## as one, and logged as one call.
function report_without_control(gone: vector of Info)
	{
	if ( |gone| == 0 )
		return;
	sort(gone, by_start);
	local given_up: table[addr, addr, count] of Info = table();
	for ( _, shadow in gone )
		given_up[shadow$id$orig_h, shadow$id$resp_h, shadow$server_call_id] = shadow;
	local found: vector of string = vector();
	local told: set[string] = set();
	local since = gone[0]$ts;
	for ( _, shadow in gone )
		{
		if ( shadow$call_key in told )
			next;
		local src = shadow$id$orig_h;
		local dst = shadow$id$resp_h;
		local counts = shadow_counts(src, dst, shadow$server_call_id, shadow);
		if ( shadow$ts < since )
			since = shadow$ts;
		if ( shadow?$paired_call_id
		    && [dst, src, shadow$paired_call_id] in given_up )
			{
			local peer = given_up[dst, src, shadow$paired_call_id];
			add told[peer$call_key];
			if ( peer$ts < shadow$ts )
				log_tunnel(peer, shadow);
			else
				log_tunnel(shadow, peer);
			counts = fmt("one tunnel, Call IDs %d and %d, learnt from GRE alone [%s; %s]",
			    shadow$server_call_id, peer$server_call_id, counts,
			    shadow_counts(dst, src, peer$server_call_id, peer));
			}
		found += counts;
		}
	local a = gone[0]$id$orig_h;
	local b = gone[0]$id$resp_h;
	NOTICE([$note=GRE_Without_Control, $src=a, $dst=b, $msg=fmt(
	    "PPTP GRE with no control connection seen: %s", join_string_vec(
	    found, "; ")), $identifier=fmt("%s-%s-%s", a, b, since)]);
	}

## Gives up every shadow between ``a`` and ``b``, both ways: GRE without control.
function give_up_pair(a: addr, b: addr)
	{
	local gone: vector of Info = vector();
	give_up_direction(a, b, gone);
	give_up_direction(b, a, gone);
	report_without_control(gone);
	}

function give_up_shadow(src: addr, dst: addr, call_id: count)
	{
	local shadow = forget_shadow(src, dst, call_id);
	fold_flows(shadow);
	Reporter::flow_weird("pptp_gre_without_call", src, dst, cat(call_id));
	report_without_control(vector(shadow));
	}

function forget_shadow(src: addr, dst: addr, call_id: count): Info
	{
	local shadow = shadows[src, dst, call_id];
	delete shadows[src, dst, call_id];
	delete shadow_ids[src, dst][call_id];
	if ( |shadow_ids[src, dst]| == 0 )
		delete shadow_ids[src, dst];
	if ( [src, dst, call_id] in gre_links
	    && gre_links[src, dst, call_id]$info$call_key == shadow$call_key )
		delete gre_links[src, dst, call_id];
	return shadow;
	}

function shadow_wait(): interval
	{
	if ( Cluster::is_enabled() || call_state_timeout < unclaimed_gre_timeout )
		return call_state_timeout;
	return unclaimed_gre_timeout;
	}

## The latest of ``since`` and the last packets of the shadows from ``src`` to ``dst``.
function last_shadow_packet(src: addr, dst: addr, since: time): time
	{
	if ( [src, dst] !in shadow_ids )
		return since;
	for ( call_id in shadow_ids[src, dst] )
		{
		local shadow = shadows[src, dst, call_id];
		if ( shadow?$orig_flows )
			for ( _, flow in shadow$orig_flows )
				if ( flow$last > since )
					since = flow$last;
		}
	return since;
	}

## A shadow nobody claimed: GRE without control once no GRE between its addresses, either
## way, has come for unclaimed_gre_timeout (so one notice has the counts of both ways). A
## cluster worker's shadow waits call_state_timeout after it began, for its call's owner.
function shadow_expired(t: table[addr, addr, count] of Info, src: addr,
    dst: addr, call_id: count): interval
	{
	local now = network_time();
	if ( Cluster::is_enabled() )
		{
		local age = now - t[src, dst, call_id]$ts;
		if ( age < call_state_timeout )
			return call_state_timeout - age;
		}
	else
		{
		local since = last_shadow_packet(src, dst, t[src, dst, call_id]$ts);
		local last = last_shadow_packet(dst, src, since);
		local idle = now - last;
		local wait = shadow_wait();
		if ( idle < wait )
			return wait - idle;
		}
	give_up_pair(src, dst);
	return 0secs;
	}

## Starts the shadow of GRE from ``src`` to ``dst`` with ``call_id``, which no call has.
function new_shadow(src: addr, dst: addr, call_id: count)
	{
	local shadow = Info($ts=network_time(), $uid="", $id=conn_id($orig_h=src,
	    $orig_p=0/unknown, $resp_h=dst, $resp_p=0/unknown), $shadow=T,
	    $server_call_id=call_id, $call_key=fmt("shadow/%s/%s/%d", src, dst,
	    call_id));
	shadows[src, dst, call_id] = shadow;
	if ( [src, dst] !in shadow_ids )
		shadow_ids[src, dst] = set();
	add shadow_ids[src, dst][call_id];
	# A shadow counts its packets as coming from the client; whoever takes it knows better.
	gre_links[src, dst, call_id] = GreLink($info=shadow, $from_client=T);
	}

## Whether a call is cleared: disconnected, stopped or refused (a Call-Clear-Request alone
## does not clear it).
function cleared(info: Info): bool
	{
	return info?$disconnect_result
	    || info?$stop_reason
	    || ( info?$call_result && info$call_result != 1 );
	}

## The call direction GRE from ``src`` to ``dst`` with ``call_id`` counts to: its own link,
## or, for GRE from an unexpected address, the known call not cleared yet with that
## destination and Call ID. Empty for GRE without a call.
function link_of(src: addr, dst: addr, call_id: count): vector of GreLink
	{
	if ( [src, dst, call_id] in gre_links )
		return vector(gre_links[src, dst, call_id]);
	if ( [dst, call_id] in gre_receivers
	    && ! cleared(gre_receivers[dst, call_id]$info) )
		return vector(gre_receivers[dst, call_id]);
	return vector();
	}

event PPTP::gre_flow_begin(flow: GreFlow)
	{
	local src = flow$src;
	local dst = flow$dst;
	local call_id = flow$call_id;
	local links = link_of(src, dst, call_id);
	if ( |links| == 0 )
		{
		new_shadow(src, dst, call_id);
		links = link_of(src, dst, call_id);
		}
	local link = links[0];
	if ( [src, dst, call_id] !in gre_links )
		{
		Reporter::flow_weird("pptp_gre_address_mismatch", src, dst, cat(call_id));
		flow$opposite_dst = link$from_client ? link$info$id$orig_h :
		    link$info$id$resp_h;
		notice_once(link$info, GRE_Address_Mismatch, fmt(
		    "GRE of PPTP Call ID %d comes "
		    + "from %s, not from its control connection's peer", call_id, src));
		}
	local info = link$info;
	flow$claimed = ! info$shadow;
	if ( link$from_client )
		{
		if ( ! info?$orig_flows )
			info$orig_flows = vector();
		info$orig_flows += flow;
		}
	else
		{
		if ( ! info?$resp_flows )
			info$resp_flows = vector();
		info$resp_flows += flow;
		}
	}

event PPTP::gre_flows_paired(flow: GreFlow, peer: GreFlow)
	{
	if ( [flow$src, flow$dst, flow$call_id] !in shadows
	    || [peer$src, peer$dst, peer$call_id] !in shadows )
		return; # a call's own directions, known from its control messages
	shadows[flow$src, flow$dst, flow$call_id]$paired_call_id = peer$call_id;
	shadows[peer$src, peer$dst, peer$call_id]$paired_call_id = flow$call_id;
	}

event PPTP::gre_ppp_protocol(src: addr, dst: addr, call_id: count,
    protocol: count)
	{
	for ( _, link in link_of(src, dst, call_id) )
		{
		local info = link$info;
		if ( ! info?$ppp_protocols )
			info$ppp_protocols = set();
		add info$ppp_protocols[ppp_protocols[protocol]];
		if ( protocol == 0x00FD )
			info$mppe_seen = T;
		else if ( protocol == 0x0021 || protocol == 0x0057 )
			{
			info$cleartext = T;
			note_findings(info);
			}
		}
	}

event PPTP::gre_authentication(src: addr, dst: addr, call_id: count,
    auth: string)
	{
	for ( _, link in link_of(src, dst, call_id) )
		{
		link$info$auth = auth;
		note_findings(link$info);
		}
	}

event PPTP::gre_identity(src: addr, dst: addr, call_id: count, protocol: count,
    name: string)
	{
	for ( _, link in link_of(src, dst, call_id) )
		{
		if ( ! link$info?$user )
			link$info$user = name;
		if ( protocol == 0xC223 )
			link$info$chap_response = T;
		note_findings(link$info);
		}
	}

event PPTP::gre_mppe_negotiated(src: addr, dst: addr, call_id: count)
	{
	for ( _, link in link_of(src, dst, call_id) )
		link$info$mppe_negotiated = T;
	}

## What Zeek reports when gre_switch puts the analyzer in or takes it out.
const own_mapping_change = /^Overwriting packet analyzer mapping +0x2f => / & (
    /GRE with SPICY_PPTP_GRE$/ | /SPICY_PPTP_GRE with GRE$/ );

# Zeek reports every packet-analyzer mapping that is replaced: these are the package's own.
hook Reporter::log_policy(rec: Reporter::Info, id: Log::ID, filter: Log::Filter)
	{
	if ( rec$level == Reporter::INFO && own_mapping_change in rec$message )
		break;
	}

## Puts the analyzer between IP and GRE, or takes it out, as ``analyze_gre`` says.
function gre_switch(id: string, new_value: bool): bool
	{
	if ( ! analyzer_loaded )
		return new_value;
	PacketAnalyzer::try_register_packet_analyzer_by_name("IP", ip_proto_gre,
	    new_value ? analyzer_name : "GRE");
	gre_counted = new_value;
	return new_value;
	}

# After Zeek's own registration of IP protocol 47 (priority 20), which this replaces.
event zeek_init() &priority=10
	{
	analyzer_loaded = PacketAnalyzer::try_register_packet_analyzer_by_name(
	    analyzer_name, ip_proto_gre, "GRE");
	if ( ! analyzer_loaded )
		Reporter::info("pptp-analysis: GRE is not counted: " + ( have_spicy() ?
		    analyzer_missing : spicy_missing ));
	Option::set_change_handler("PPTP::analyze_gre", gre_switch);
	gre_switch("PPTP::analyze_gre", analyze_gre);
	}

# Shadows still unclaimed when Zeek stops (the end of a trace) are GRE without control, in
# the order their GRE began. On a cluster the manager may still ask a worker for its
# shadows: there they expire only.
event zeek_done()
	{
	if ( Cluster::is_enabled() )
		return;
	local pairs: vector of Info = vector();
	for ( [src, dst, call_id], shadow in shadows )
		pairs += shadow;
	sort(pairs, by_start);
	for ( _, shadow in pairs )
		if ( [shadow$id$orig_h, shadow$id$resp_h] in shadow_ids )
			give_up_pair(shadow$id$orig_h, shadow$id$resp_h);
	}
