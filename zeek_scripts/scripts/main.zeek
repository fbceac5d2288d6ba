##! PPTP (RFC 2637) control-channel analysis at script level: framing of the TCP 1723 byte
##! stream, all 15 control messages as events, connection and call state, and pptp.log with
##! one row per call (and one per control connection that set up no call).

@load base/frameworks/notice
@load base/frameworks/cluster
@load ./consts

module PPTP;

export {
	redef enum Log::ID += { LOG };

	global log_policy: Log::PolicyHook;

	## One direction of one call's GRE as the package's GRE analyzer counts it: the packets
	## from ``src`` to ``dst`` with Call ID ``call_id`` in their key. The analyzer (compiled
	## code) keeps the counters current with every packet; scripts read them when they log
	## the call, and set ``closed`` when the call they belong to is over.
	type GreFlow: record {
		## Source of the GRE packets.
		src: addr;
		## Destination of the GRE packets.
		dst: addr;
		## Call ID in their key (the receiver's).
		call_id: count;
		## When the flow's first packet was seen.
		first: time;
		## When its latest packet was seen.
		last: time;
		## Packets with a sound header.
		packets: count;
		## PPP octets they carried.
		bytes: count;
		## Sequence numbers skipped.
		lost: count;
		## Packets seen twice.
		duplicate: count;
		## Packets that arrived after a higher number.
		out_of_order: count;
		## Packets whose number was far from the flow's (outside the window): strays,
		## counted apart.
		out_of_window: count;
		## Times the numbers restarted: the next packet continued from a stray.
		restarts: count;
		## Call ID of the opposite direction's flow, once the two are paired: one
		## direction's acknowledgments acknowledge the other's numbers.
		peer_call_id: count &optional;
		## Set by scripts for GRE a call claims (from its set-up or a later control
		## message): only unclaimed flows are paired with each other.
		claimed: bool;
		## Set by scripts for GRE of a call from an unexpected address: where the call's
		## opposite direction goes (whose PPP this flow's answers).
		opposite_dst: addr &optional;
		## Set by scripts: the analyzer starts a new flow with the key's next packet.
		closed: bool;
	};

	## One call of a PPTP control connection, or the connection itself if it set up no call.
	type Info: record {
		## Time the control connection (or the call) started.
		ts: time &log;
		## Unique ID of the control connection.
		uid: string &log;
		## The control connection's endpoints (the PNS is the originator).
		id: conn_id &log;
		## "outgoing" or "incoming" call, or "unseen" for one set up before the capture
		## began, learnt from a later message that names its Call IDs, or "gre_only" for
		## a tunnel learnt from GRE alone (its two directions paired, no control
		## connection: ``id`` has the GRE's addresses, the first to send as the
		## originator, and ``uid`` is empty); unset for a connection without calls.
		call_kind: string &log &optional;
		## Call ID the PNS (client) assigned; the server puts it in its GRE packets.
		client_call_id: count &log &optional;
		## Call ID the PAC (server) assigned; the client puts it in its GRE packets.
		server_call_id: count &log &optional;
		## Call Serial Number of the call request (unset for an "unseen" call).
		call_serial_number: count &log &optional;
		## Host name from Start-Control-Connection-Request.
		client_host_name: string &log &optional;
		## Vendor name from Start-Control-Connection-Request.
		client_vendor_name: string &log &optional;
		## Host name from Start-Control-Connection-Reply.
		server_host_name: string &log &optional;
		## Vendor name from Start-Control-Connection-Reply.
		server_vendor_name: string &log &optional;
		## Protocol version the client announced (0x0100 is version 1.0).
		protocol_version: count &log &optional;
		## Result code of Start-Control-Connection-Reply (1 is success).
		start_result: count &log &optional;
		## Result code of the call reply (1 is Connected).
		call_result: count &log &optional;
		## Error code of the call reply.
		call_error: count &log &optional;
		## Result code of Call-Disconnect-Notify (e.g. 3 Admin Shutdown, 4 Request).
		disconnect_result: count &log &optional;
		## Reason code of Stop-Control-Connection-Request.
		stop_reason: count &log &optional;
		## How long the call lasted, from its request to its last packet.
		duration: interval &log &optional;
		## Address the client's GRE came from.
		gre_client: addr &log &optional;
		## GRE packets from the client to the server.
		orig_gre_pkts: count &log &default=0;
		## PPP octets in GRE from the client to the server.
		orig_gre_bytes: count &log &default=0;
		## GRE packets from the server to the client.
		resp_gre_pkts: count &log &default=0;
		## PPP octets in GRE from the server to the client.
		resp_gre_bytes: count &log &default=0;
		## Sequence numbers the client skipped (lost), counted per number.
		orig_gre_lost: count &log &default=0;
		## Client GRE packets seen twice.
		orig_gre_duplicate: count &log &default=0;
		## Client GRE packets that arrived after a higher number.
		orig_gre_out_of_order: count &log &default=0;
		## Client GRE packets whose number was far from the flow's: strays, counted
		## apart from the losses.
		orig_gre_out_of_window: count &log &default=0;
		## Times the client's numbers restarted (a reconnect reusing the Call ID).
		orig_gre_restarts: count &log &default=0;
		## Sequence numbers the server skipped (lost), counted per number.
		resp_gre_lost: count &log &default=0;
		## Server GRE packets seen twice.
		resp_gre_duplicate: count &log &default=0;
		## Server GRE packets that arrived after a higher number.
		resp_gre_out_of_order: count &log &default=0;
		## Server GRE packets whose number was far from the flow's: strays, counted
		## apart from the losses.
		resp_gre_out_of_window: count &log &default=0;
		## Times the server's numbers restarted (a reconnect reusing the Call ID).
		resp_gre_restarts: count &log &default=0;
		## PPP protocols seen inside the tunnel (LCP, CHAP, CCP, MPPE, IPCP, IP, ...).
		ppp_protocols: set[string] &log &optional;
		## Authentication protocol LCP negotiated: PAP, CHAP-MD5, MS-CHAPv1, MS-CHAPv2,
		## EAP, or "none".
		auth: string &log &optional;
		## User name the call authenticated with, the first one seen: the Peer-ID of a
		## PAP Authenticate-Request, the Name of a CHAP (MS-CHAP too) Response, or an EAP
		## Response/Identity.
		user: string &log &optional;
		## Whether MPPE was negotiated and encrypted data followed.
		encrypted: bool &log &optional;
		## Which GRE directions were seen: "both", "client", "server" or "none".
		gre_seen: string &log &optional;

		## When the call was connected (its reply with result Connected); unset for a
		## call that was refused.
		connected_at: time &optional;
		## When the first GRE from the client was seen.
		first_orig_gre: time &optional;
		## When the first GRE from the server was seen.
		first_resp_gre: time &optional;

		## Start of the call (request time), for the duration.
		call_start: time &optional;
		## Time of the call's last packet.
		call_end: time &optional;
		## When the call was cleared: its first Call-Clear-Request, Call-Disconnect-Notify
		## or Stop-Control-Connection-Request.
		ended_at: time &optional;
		## How long a call that was never cleared was watched, where the node that ends
		## it knows better than its own last activity (cluster.zeek).
		watched_until: time &optional;
		## GRE counted for a call another cluster node owns (cluster.zeek): no notices.
		shadow: bool &default=F;
		## MPPE was negotiated by CCP.
		mppe_negotiated: bool &default=F;
		## MPPE packets were seen.
		mppe_seen: bool &default=F;
		## IP in PPP was seen (cleartext tunnel data).
		cleartext: bool &default=F;
		## A CHAP Response was seen: with MS-CHAPv2, the handshake can be cracked.
		chap_response: bool &default=F;
		## Notices already raised for this call.
		noticed: set[Notice::Type] &optional;
		## Unique within the sensor: control uid and the call's number on it (Call IDs
		## are reused once a call is cleared).
		call_key: string &optional;
		## GRE flows counted for the call from the client, not yet added to the counts.
		orig_flows: vector of GreFlow &optional;
		## GRE flows counted for the call from the server, not yet added to the counts.
		resp_flows: vector of GreFlow &optional;
		## A shadow paired with the shadow of the opposite direction that has this Call
		## ID: the two are one tunnel learnt from GRE alone (gre.zeek).
		paired_call_id: count &optional;
	};

	## A parsed control message; fields a type does not carry are unset.
	type Message: record {
		## Length field of the header.
		length: count;
		## PPTP message type (1 control, 2 management).
		pptp_type: count;
		## Magic cookie of the header.
		cookie: count;
		## Control message type (1-15).
		msg_type: count;
		## Call ID the sender assigned (requests and replies).
		call_id: count &optional;
		## The peer's Call ID (replies, Incoming-Call-Connected, WAN-Error-Notify, ...).
		peer_call_id: count &optional;
		## Call Serial Number.
		serial: count &optional;
		## Result code.
		result: count &optional;
		## Error code.
		error: count &optional;
		## Cause code.
		cause: count &optional;
		## Echo Identifier.
		identifier: count &optional;
		## Protocol version (Start-Control-Connection messages).
		version: count &optional;
		## Stop reason.
		reason: count &optional;
		## Host name, NUL-trimmed.
		host_name: string &optional;
		## Vendor name, NUL-trimmed.
		vendor_name: string &optional;
	};

	## TCP ports of the control channel. Zeek delivers their payload to this script; redef
	## before loading to add ports (``tcp_content_delivery_ports_*`` follow this set).
	const ports: set[port] = {1723/tcp} &redef;

	## Longest control message accepted before the stream is taken as not PPTP
	## (the longest RFC 2637 message has 220 octets).
	option max_message_length = 1024;

	## Control messages in one TCP segment from which Control_Message_Flood is raised.
	option flood_threshold = 20;

	## Failed call attempts (Outgoing-Call-Reply not Connected) from one client within
	## failed_call_window from which Failed_Call_Attempts is raised.
	option failed_call_threshold = 5;

	## Window over which failed call attempts are counted.
	option failed_call_window = 5min;

	## How long a call's GRE key stays known after its last packet.
	option call_state_timeout = 1hr;

	## How long GRE that no call claims may pause before it is given up as GRE without
	## control (a cluster worker's shadows wait call_state_timeout instead, for their
	## call's owner). A call's GRE seldom pauses that long (LCP echoes keep it going), so
	## GRE of a call learnt from a later control message waits for it while it flows;
	## GRE that stops is reported when it stops, and a sensor holds only the unclaimed
	## GRE of the last few minutes.
	option unclaimed_gre_timeout = 5min;

	## Raised for every control message.
	global message: event(c: connection, is_orig: bool, m: Message);
	## Raised for each message type.
	global start_control_connection_request: event(c: connection, is_orig: bool,
	    m: Message);
	global start_control_connection_reply: event(c: connection, is_orig: bool,
	    m: Message);
	global stop_control_connection_request: event(c: connection, is_orig: bool,
	    m: Message);
	global stop_control_connection_reply: event(c: connection, is_orig: bool,
	    m: Message);
	global echo_request: event(c: connection, is_orig: bool, m: Message);
	global echo_reply: event(c: connection, is_orig: bool, m: Message);
	global outgoing_call_request: event(c: connection, is_orig: bool, m: Message);
	global outgoing_call_reply: event(c: connection, is_orig: bool, m: Message);
	global incoming_call_request: event(c: connection, is_orig: bool, m: Message);
	global incoming_call_reply: event(c: connection, is_orig: bool, m: Message);
	global incoming_call_connected: event(c: connection, is_orig: bool,
	    m: Message);
	global call_clear_request: event(c: connection, is_orig: bool, m: Message);
	global call_disconnect_notify: event(c: connection, is_orig: bool, m: Message);
	global wan_error_notify: event(c: connection, is_orig: bool, m: Message);
	global set_link_info: event(c: connection, is_orig: bool, m: Message);

	## Raised for every pptp.log row.
	global log_pptp: event(rec: Info);

	redef enum Notice::Type += {
		## A call negotiated PAP, CHAP-MD5 or MS-CHAP: credentials can be recovered from
		## the capture.
		Weak_Authentication,
		## A call's MS-CHAPv2 login was seen (LCP settled on MS-CHAPv2, and the CHAP
		## Response with the user name came): its challenge and response can be cracked
		## offline for the user's NT hash, which also gives the MPPE keys of the call.
		## ``notice_mschapv2_handshakes`` turns it off.
		MSCHAPv2_Handshake,
		## IP travelled inside the tunnel without MPPE: the "VPN" is cleartext.
		Cleartext_Tunnel,
		## GRE with a Call ID no control connection seen by this sensor set up.
		GRE_Without_Control,
		## Two control connections from one client address to one server use the same
		## client Call ID: clients behind a NAT without a PPTP NAT editor.
		Call_ID_Collision,
		## Many call attempts from one client failed.
		Failed_Call_Attempts,
		## Dozens of control messages packed into one TCP segment (the pattern of the
		## public CVE-2022-23270 exploit against Windows PPTP servers).
		Control_Message_Flood,
		## A call was connected, but GRE (IP protocol 47) from one or both sides did not
		## appear within gre_grace_period: a firewall or NAT drops it that way.
		GRE_Blocked,
		## A client's Call ID equals its TCP source port: a NAT's PPTP helper (the Linux
		## one) rewrote it, so the client is behind a NAT.
		NAT_Detected,
		## GRE of a known call arrives from an address other than its control
		## connection's peer: an inconsistent NAT or a multi-homed peer.
		GRE_Address_Mismatch,
	};

	## Whether an MS-CHAPv2 login seen whole raises MSCHAPv2_Handshake (Weak_Authentication
	## is raised for every MS-CHAP call all the same). Redef to ``F`` where the handshakes
	## are known and only the weak authentication is of interest.
	option notice_mschapv2_handshakes = T;

	## Whether GRE packets are analyzed (by the package's Spicy analyzer, see gre.zeek).
	## Without it, no GRE is counted and no call is diagnosed as GRE_Blocked.
	option analyze_gre = T;

	## Whether GRE is being counted: ``analyze_gre`` and the package's GRE analyzer is in
	## Zeek's packet analysis (gre.zeek keeps this current).
	global gre_counted = F;

	## When the latest enhanced GRE packet carrying PPP was seen (the GRE analyzer keeps this
	## current).
	global last_gre_activity = double_to_time(0.0);

	## Time after a call is connected within which GRE from each side must appear.
	option gre_grace_period = 10sec;

	## Where a GRE packet of a call is counted: the call and the direction.
	type GreLink: record {
		info: Info;
		from_client: bool;
	};

	## GRE keys of established calls: [source, destination, Call ID in the key].
	global gre_links: table[addr, addr, count] of GreLink
	    &read_expire=call_state_timeout;

	## The same calls by [destination, Call ID] only, to recognize GRE of a known call that
	## comes from an unexpected address.
	global gre_receivers: table[addr, count] of GreLink
	    &read_expire=call_state_timeout;

	## Raise ``n`` for ``info`` once per call.
	global notice_once: function(info: Info, n: Notice::Type, msg: string);

	## Raises the notices what the GRE of ``info`` showed calls for, once per call:
	## Weak_Authentication, MSCHAPv2_Handshake, Cleartext_Tunnel.
	global note_findings: function(info: Info);

	## Adds what the PPP of ``shadow`` showed to ``info`` (its counts excepted).
	global merge_findings: function(info: Info, shadow: Info);

	## Adds a call's GRE flows to its counts and closes them; done once the call is over.
	global fold_flows: function(info: Info);

	## When PPTP was last seen: a control message or enhanced GRE.
	global last_pptp_activity: function(): time;

	## How long a shadow waits before it is first checked (gre.zeek).
	global shadow_wait: function(): interval;

	## What becomes of a shadow nobody claimed (gre.zeek): GRE without control, once
	## its GRE and the reverse direction's paused for unclaimed_gre_timeout.
	global shadow_expired: function(t: table[addr, addr, count] of Info, src: addr,
	    dst: addr, call_id: count): interval;

	## GRE no call claimed when its flow began, by [source, destination, Call ID]: a
	## *shadow*, a record that counts its flows and gathers what its PPP shows like a
	## call's, but raises no notices. A call learnt from a later control message takes
	## the shadow of its key (GRE before that message is the call's); a call set up
	## here ends it (GRE before the call was set up is not the call's); on a cluster the
	## manager gathers a finished call's shadows from the workers (cluster.zeek). One
	## nobody takes is GRE without control: given up once its GRE has paused for
	## unclaimed_gre_timeout (on a cluster worker, call_state_timeout after it began), or
	## at the end of the run.
	global shadows: table[addr, addr, count] of Info &create_expire=shadow_wait()
	    &expire_func=shadow_expired;

	## The Call IDs of the shadows from [source, destination].
	global shadow_ids: table[addr, addr] of set[count];

	## Takes the shadow of [src, dst, call_id] out of the tables (and its link).
	global forget_shadow: function(src: addr, dst: addr, call_id: count): Info;

	## Gives up the shadow of [src, dst, call_id] (gre.zeek): GRE without control.
	global give_up_shadow: function(src: addr, dst: addr, call_id: count);

	## Completes a finished call's row: authentication, encryption, the GRE diagnosis;
	## then logs it.
	global complete: function(info: Info);

	## A call is finished (its control connection is gone). A handler that ``break``\ s
	## takes over logging it (cluster.zeek gathers its GRE from the other nodes first).
	global finishing_call: hook(info: Info);
}

redef tcp_content_delivery_ports_orig += {[1723/tcp] = T};
redef tcp_content_delivery_ports_resp += {[1723/tcp] = T};

type State: record {
	buffer_orig: string &default="";
	buffer_resp: string &default="";
	## Framing lost (a length beyond max_message_length): nothing more is parsed.
	lost_framing: bool &default=F;
	started: bool &default=F;
	sccrq_seen: bool &default=F;
	stop_requested: bool &default=F;
	conn_info: Info;
	## Calls by the PNS's Call ID.
	calls: table[count] of Info;
	## Number of the next call on this connection.
	next_call: count &default=0;
	## Calls not cleared yet: the PNS's Call ID -> call number.
	active: table[count] of count;
	## Calls not cleared yet whose PNS Call ID is not known: learnt from a message that
	## named only the PAC's. Their numbers.
	without_client_id: set[count];
	## Outgoing-Call-Requests awaiting a reply, by the PNS's Call ID.
	pending_outgoing: table[count] of Message;
	## Incoming-Call-Requests awaiting a reply, by the PAC's Call ID.
	pending_incoming: table[count] of Message;
};

redef record connection += {
	pptp: State &optional;
};

## Failed call attempts per client address.
global failed_calls: table[addr] of count &default=0
    &create_expire=failed_call_window;

## When the last PPTP control message or enhanced-GRE packet was seen: how long a call
## that was never cleared has been watched.
global last_activity = double_to_time(0.0);

## Open calls per [client address, server address, PNS Call ID]: the control connection.
global open_client_ids: table[addr, addr, count] of string
    &read_expire=call_state_timeout;

event zeek_init() &priority=5
	{
	Log::create_stream(PPTP::LOG, [$columns=Info, $ev=log_pptp, $path="pptp",
	    $policy=log_policy]);
	}

function notice_once(info: Info, n: Notice::Type, msg: string)
	{
	if ( ! info?$noticed )
		info$noticed = set();
	if ( n in info$noticed )
		return;
	add info$noticed[n];
	if ( info$shadow )
		return;
	local call_id = info?$client_call_id ? info$client_call_id : 0;
	NOTICE([$note=n, $msg=msg, $id=info$id, $uid=info$uid, $sub=fmt("call %d",
	    call_id), $identifier=info?$call_key ? info$call_key : info$uid]);
	}

function note_findings(info: Info)
	{
	if ( info$shadow )
		return; # noted by the call that takes it
	if ( info?$auth && info$auth in weak_authentication )
		notice_once(info, Weak_Authentication, fmt(
		    "PPTP call negotiated %s authentication", info$auth));
	if ( notice_mschapv2_handshakes
	    && info?$auth
	    && info$auth == "MS-CHAPv2"
	    && info$chap_response
	    && info?$user )
		{
		local who = fmt("user '%s' from client %s to server %s", info$user,
		    info$id$orig_h, info$id$resp_h);
		notice_once(info, MSCHAPv2_Handshake, fmt("MS-CHAPv2 handshake of %s: it "
		    + "can be cracked offline for the user's NT hash, which also decrypts the "
		    + "call's MPPE", who));
		}
	if ( info$cleartext )
		notice_once(info, Cleartext_Tunnel,
		    "IP inside a PPTP tunnel without MPPE encryption");
	}

function merge_findings(info: Info, shadow: Info)
	{
	if ( shadow?$ppp_protocols )
		{
		if ( ! info?$ppp_protocols )
			info$ppp_protocols = set();
		for ( p in shadow$ppp_protocols )
			add info$ppp_protocols[p];
		}
	if ( shadow?$auth && ! info?$auth )
		info$auth = shadow$auth;
	if ( shadow?$user && ! info?$user )
		info$user = shadow$user;
	info$chap_response = info$chap_response || shadow$chap_response;
	info$mppe_negotiated = info$mppe_negotiated || shadow$mppe_negotiated;
	info$mppe_seen = info$mppe_seen || shadow$mppe_seen;
	info$cleartext = info$cleartext || shadow$cleartext;
	}

function text(s: string, at: count, size: count): string
	{
	local field = s[at : at + size];
	local nul = strstr(field, "\x00");
	return nul == 0 ? field : field[0 : nul - 1];
	}

## The common header of a message.
function parse_header(s: string): Message
	{
	return Message($length=bytestring_to_count(s[0:2]),
	    $pptp_type=bytestring_to_count(s[2:4]), $cookie=bytestring_to_count(s[4:8]),
	    $msg_type=bytestring_to_count(s[8:10]));
	}

## Fills in the fields of message ``m``'s type from its octets ``s``; the caller has
## checked its length against the type.
function parse(s: string, m: Message)
	{
	switch ( m$msg_type )
		{
		case 1, 2:
			m$version = bytestring_to_count(s[12:14]);
			if ( m$msg_type == 2 )
				{
				m$result = bytestring_to_count(s[14]);
				m$error = bytestring_to_count(s[15]);
				}
			m$host_name = text(s, 28, 64);
			m$vendor_name = text(s, 92, 64);
			break;
		case 3:
			m$reason = bytestring_to_count(s[12]);
			break;
		case 4:
			m$result = bytestring_to_count(s[12]);
			m$error = bytestring_to_count(s[13]);
			break;
		case 5:
			m$identifier = bytestring_to_count(s[12:16]);
			break;
		case 6:
			m$identifier = bytestring_to_count(s[12:16]);
			m$result = bytestring_to_count(s[16]);
			m$error = bytestring_to_count(s[17]);
			break;
		case 7:
			m$call_id = bytestring_to_count(s[12:14]);
			m$serial = bytestring_to_count(s[14:16]);
			break;
		case 8, 10:
			m$call_id = bytestring_to_count(s[12:14]);
			m$peer_call_id = bytestring_to_count(s[14:16]);
			m$result = bytestring_to_count(s[16]);
			m$error = bytestring_to_count(s[17]);
			if ( m$msg_type == 8 )
				m$cause = bytestring_to_count(s[18:20]);
			break;
		case 9:
			m$call_id = bytestring_to_count(s[12:14]);
			m$serial = bytestring_to_count(s[14:16]);
			break;
		case 11, 14, 15:
			m$peer_call_id = bytestring_to_count(s[12:14]);
			break;
		case 12:
			m$call_id = bytestring_to_count(s[12:14]);
			break;
		case 13:
			m$call_id = bytestring_to_count(s[12:14]);
			m$result = bytestring_to_count(s[14]);
			m$error = bytestring_to_count(s[15]);
			m$cause = bytestring_to_count(s[16:18]);
			break;
		}
	}

function new_call(c: connection, kind: string, client_id: count,
    server_id: count, request: Message, reply: Message): Info
	{
	local base = c$pptp$conn_info;
	local info = copy(base);
	info$ts = network_time();
	info$call_kind = kind;
	info$client_call_id = client_id;
	info$server_call_id = server_id;
	if ( request?$serial )
		info$call_serial_number = request$serial;
	info$call_result = reply$result;
	info$call_error = reply$error;
	info$call_start = network_time();
	info$call_end = network_time();
	info$gre_client = c$id$orig_h;
	return info;
	}

## Numbers a call of ``st`` and keeps it; returns its number.
function number_call(st: State, info: Info): count
	{
	local index = st$next_call;
	++st$next_call;
	info$call_key = fmt("%s#%d", info$uid, index);
	st$calls[index] = info;
	return index;
	}

function add_call(st: State, info: Info)
	{
	st$active[info$client_call_id] = number_call(st, info);
	}

## Closes the flows ``link`` counts in its direction of its call.
function close_link_flows(link: GreLink)
	{
	local flows = link$from_client ? link$info$orig_flows : link$info$resp_flows;
	for ( _, flow in flows )
		flow$closed = T;
	}

## Adds the flows and findings of the shadow of [src, dst, call_id] to the call direction of
## ``link``: GRE of a call learnt from a later message, seen before that message.
function adopt_shadow(link: GreLink, src: addr, dst: addr, call_id: count)
	{
	local shadow = forget_shadow(src, dst, call_id);
	local info = link$info;
	if ( shadow?$orig_flows )
		for ( _, flow in shadow$orig_flows )
			{
			flow$claimed = T;
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
			if ( flow$first < info$call_start )
				info$call_start = flow$first;
			if ( flow$first < info$ts )
				info$ts = flow$first;
			}
	merge_findings(info, shadow);
	note_findings(info);
	}

## Counts GRE from ``src`` to ``dst`` with ``call_id`` to the call direction of ``link`` from
## now on. GRE already counted on that key without a call is the call's if ``adopt`` (a call
## learnt from a later message), and GRE without control if not (a call set up here, whose
## GRE starts now); another call's flows on the key end.
function tie_gre(link: GreLink, src: addr, dst: addr, call_id: count,
    adopt: bool)
	{
	if ( [src, dst, call_id] in shadows )
		{
		if ( adopt )
			adopt_shadow(link, src, dst, call_id);
		else
			give_up_shadow(src, dst, call_id);
		}
	if ( [src, dst, call_id] in gre_links )
		{
		local other = gre_links[src, dst, call_id];
		if ( other$from_client ? other$info?$orig_flows : other$info?$resp_flows )
			close_link_flows(other);
		}
	gre_links[src, dst, call_id] = link;
	gre_receivers[dst, call_id] = link;
	}

function establish(c: connection, info: Info)
	{
	info$connected_at = network_time();
	local client = c$id$orig_h;
	local server = c$id$resp_h;
	tie_gre(GreLink($info=info, $from_client=T), client, server,
	    info$server_call_id, F);
	tie_gre(GreLink($info=info, $from_client=F), server, client,
	    info$client_call_id, F);
	if ( info$client_call_id == port_to_count(c$id$orig_p) )
		notice_once(info, NAT_Detected, fmt(
		    "PPTP client Call ID %d equals its TCP source "
		    + "port: %s is a NAT whose PPTP helper rewrites Call IDs", info$client_call_id, client));
	local key = "";
	if ( [client, server, info$client_call_id] in open_client_ids )
		key = open_client_ids[client, server, info$client_call_id];
	if ( key != "" && key != c$uid )
		{
		Reporter::conn_weird("pptp_call_id_collision", c, cat(info$client_call_id),
		    "PPTP");
		notice_once(info, Call_ID_Collision, fmt(
		    "clients behind %s both use Call ID %d "
		    + "to %s (no PPTP NAT editor?)", client, info$client_call_id, server));
		}
	open_client_ids[client, server, info$client_call_id] = c$uid;
	}

## The number of the call of ``st`` not cleared yet whose client's (``client_side``) or
## server's Call ID is ``call_id``; none if there is no such call. Of two with the same
## server Call ID, the later.
function find_call(st: State, client_side: bool, call_id: count): vector of
    count
	{
	if ( client_side )
		return call_id in st$active ? vector(st$active[call_id]) : vector();
	local found: vector of count = vector();
	for ( _, index in st$active )
		if ( st$calls[index]?$server_call_id
		    && st$calls[index]$server_call_id == call_id
		    && ( |found| == 0 || index > found[0] ) )
			found = vector(index);
	for ( index in st$without_client_id )
		if ( st$calls[index]$server_call_id == call_id
		    && ( |found| == 0 || index > found[0] ) )
			found = vector(index);
	return found;
	}

## A call whose set-up the capture missed, learnt from the later message ``m`` that names it
## by its client's (``client_side``) or server's Call ID ``call_id``. A call learnt before
## from the other side's Call ID and still lacking this one gets it (a Call-Clear-Request
## answered by a Call-Disconnect-Notify, a Set-Link-Info and a WAN-Error-Notify name the
## same call); else it is a new call, with the weird pptp_setup_unseen. Its GRE to that side,
## the packets already seen included, counts to it. Returns the call's number.
function learn_call(c: connection, client_side: bool, call_id: count,
    m: Message): count
	{
	local st = c$pptp;
	local found: vector of count = vector();
	if ( client_side )
		{
		for ( waiting in st$without_client_id )
			if ( |found| == 0 || waiting > found[0] )
				found = vector(waiting);
		}
	else
		{
		for ( _, active in st$active )
			if ( st$calls[active]$call_kind == "unseen"
			    && ! st$calls[active]?$server_call_id
			    && ( |found| == 0 || active > found[0] ) )
				found = vector(active);
		}
	if ( |found| == 0 )
		{
		local learnt = copy(st$conn_info);
		learnt$ts = network_time();
		learnt$call_kind = "unseen";
		learnt$call_start = network_time();
		learnt$call_end = network_time();
		learnt$gre_client = c$id$orig_h;
		found = vector(number_call(st, learnt));
		Reporter::conn_weird("pptp_setup_unseen", c, fmt("%s names Call ID %d",
		    message_types[m$msg_type], call_id), "PPTP");
		}
	local index = found[0];
	local call = st$calls[index];
	if ( client_side )
		{
		call$client_call_id = call_id;
		st$active[call_id] = index;
		delete st$without_client_id[index];
		tie_gre(GreLink($info=call, $from_client=F), c$id$resp_h, c$id$orig_h,
		    call_id, T);
		}
	else
		{
		call$server_call_id = call_id;
		if ( ! call?$client_call_id )
			add st$without_client_id[index];
		tie_gre(GreLink($info=call, $from_client=T), c$id$orig_h, c$id$resp_h,
		    call_id, T);
		}
	return index;
	}

## The call of ``st`` that ``m`` names by its client's (``client_side``) or server's Call ID
## ``call_id``, learnt from ``m`` if the connection's start is not in the capture (no
## Start-Control-Connection-Request seen); none if there is no such call.
function call_named(c: connection, client_side: bool, call_id: count,
    m: Message): vector of count
	{
	local found = find_call(c$pptp, client_side, call_id);
	if ( |found| == 0 && ! c$pptp$sccrq_seen )
		found = vector(learn_call(c, client_side, call_id, m));
	return found;
	}

## Forgets a cleared call: no later message names it.
function clear_call(st: State, index: count)
	{
	local call = st$calls[index];
	if ( call?$client_call_id
	    && call$client_call_id in st$active
	    && st$active[call$client_call_id] == index )
		delete st$active[call$client_call_id];
	delete st$without_client_id[index];
	}

function out_of_state(c: connection, m: Message)
	{
	Reporter::conn_weird("pptp_out_of_state", c, message_types[m$msg_type],
	    "PPTP");
	}

function handle(c: connection, is_orig: bool, m: Message)
	{
	local st = c$pptp;
	last_activity = network_time();
	switch ( m$msg_type )
		{
		case 1:
			st$sccrq_seen = T;
			st$conn_info$client_host_name = m$host_name;
			st$conn_info$client_vendor_name = m$vendor_name;
			st$conn_info$protocol_version = m$version;
			break;
		case 2:
			if ( ! st$sccrq_seen )
				out_of_state(c, m);
			st$started = T;
			st$conn_info$server_host_name = m$host_name;
			st$conn_info$server_vendor_name = m$vendor_name;
			st$conn_info$start_result = m$result;
			break;
		case 3:
			st$stop_requested = T;
			st$conn_info$stop_reason = m$reason;
			for ( stop_id, stop_call in st$calls )
				{
				stop_call$stop_reason = m$reason;
				if ( ! stop_call?$ended_at )
					stop_call$ended_at = network_time();
				}
			break;
		case 7:
			st$pending_outgoing[m$call_id] = m;
			break;
		case 8:
			if ( m$peer_call_id !in st$pending_outgoing )
				{
				out_of_state(c, m);
				break;
				}
			local ocall = new_call(c, "outgoing", m$peer_call_id, m$call_id,
			    st$pending_outgoing[m$peer_call_id], m);
			ocall$call_start = network_time();
			delete st$pending_outgoing[m$peer_call_id];
			add_call(st, ocall);
			if ( m$result == 1 )
				establish(c, ocall);
			else
				{
				failed_calls[c$id$orig_h] += 1;
				local n = failed_calls[c$id$orig_h];
				if ( n >= failed_call_threshold )
					NOTICE([$note=Failed_Call_Attempts, $conn=c, $msg=fmt(
					    "%d failed PPTP call attempts from %s", n,
					    c$id$orig_h), $identifier=cat(
					    c$id$orig_h)]);
				}
			break;
		case 9:
			st$pending_incoming[m$call_id] = m;
			break;
		case 10:
			if ( m$peer_call_id !in st$pending_incoming )
				{
				out_of_state(c, m);
				break;
				}
			local icall = new_call(c, "incoming", m$call_id, m$peer_call_id,
			    st$pending_incoming[m$peer_call_id], m);
			delete st$pending_incoming[m$peer_call_id];
			add_call(st, icall);
			if ( m$result == 1 )
				establish(c, icall);
			break;
		case 11:
			if ( m$peer_call_id !in st$active )
				out_of_state(c, m);
			else
				st$calls[st$active[m$peer_call_id]]$call_end = network_time();
			break;
		case 12:
			local cleared = call_named(c, T, m$call_id, m);
			if ( |cleared| == 0 )
				out_of_state(c, m);
			else if ( ! st$calls[cleared[0]]?$ended_at )
				st$calls[cleared[0]]$ended_at = network_time();
			break;
		case 13:
			local disconnected = call_named(c, F, m$call_id, m);
			if ( |disconnected| == 0 )
				{
				out_of_state(c, m);
				break;
				}
			local dcall = st$calls[disconnected[0]];
			dcall$disconnect_result = m$result;
			dcall$call_end = network_time();
			if ( ! dcall?$ended_at )
				dcall$ended_at = network_time();
			clear_call(st, disconnected[0]);
			break;
		case 14:
			# From the PAC, with the PNS's Call ID.
			local errored = call_named(c, T, m$peer_call_id, m);
			if ( |errored| > 0 )
				st$calls[errored[0]]$call_end = network_time();
			break;
		case 15:
			# From the PNS with the PAC's Call ID; real PACs send it too, with the PNS's.
			local linked = find_call(st, ! is_orig, m$peer_call_id);
			if ( |linked| == 0 && is_orig )
				linked = find_call(st, T, m$peer_call_id);
			if ( |linked| == 0 )
				linked = call_named(c, ! is_orig, m$peer_call_id, m);
			if ( |linked| > 0 )
				st$calls[linked[0]]$call_end = network_time();
			break;
		}
	}

function raise_events(c: connection, is_orig: bool, m: Message)
	{
	event PPTP::message(c, is_orig, m);
	switch ( m$msg_type )
		{
		case 1:
			event PPTP::start_control_connection_request(c, is_orig, m);
			break;
		case 2:
			event PPTP::start_control_connection_reply(c, is_orig, m);
			break;
		case 3:
			event PPTP::stop_control_connection_request(c, is_orig, m);
			break;
		case 4:
			event PPTP::stop_control_connection_reply(c, is_orig, m);
			break;
		case 5:
			event PPTP::echo_request(c, is_orig, m);
			break;
		case 6:
			event PPTP::echo_reply(c, is_orig, m);
			break;
		case 7:
			event PPTP::outgoing_call_request(c, is_orig, m);
			break;
		case 8:
			event PPTP::outgoing_call_reply(c, is_orig, m);
			break;
		case 9:
			event PPTP::incoming_call_request(c, is_orig, m);
			break;
		case 10:
			event PPTP::incoming_call_reply(c, is_orig, m);
			break;
		case 11:
			event PPTP::incoming_call_connected(c, is_orig, m);
			break;
		case 12:
			event PPTP::call_clear_request(c, is_orig, m);
			break;
		case 13:
			event PPTP::call_disconnect_notify(c, is_orig, m);
			break;
		case 14:
			event PPTP::wan_error_notify(c, is_orig, m);
			break;
		case 15:
			event PPTP::set_link_info(c, is_orig, m);
			break;
		}
	}

## Checks one framed message and acts on it; malformed ones give weirds.
function process(c: connection, is_orig: bool, s: string)
	{
	local m = parse_header(s);
	if ( m$pptp_type != 1 )
		Reporter::conn_weird("pptp_not_control", c, cat(m$pptp_type), "PPTP");
	if ( m$cookie != magic_cookie )
		Reporter::conn_weird("pptp_bad_magic_cookie", c, fmt("0x%08x", m$cookie),
		    "PPTP");
	if ( bytestring_to_count(s[10:12]) != 0 )
		Reporter::conn_weird("pptp_reserved_nonzero", c, "", "PPTP");
	if ( m$msg_type !in message_lengths )
		{
		Reporter::conn_weird("pptp_unknown_message_type", c, cat(m$msg_type), "PPTP");
		return;
		}
	if ( m$length != message_lengths[m$msg_type] )
		{
		Reporter::conn_weird("pptp_length_mismatch", c, fmt("%s of %d octets",
		    message_types[m$msg_type], m$length), "PPTP");
		if ( m$length < message_lengths[m$msg_type] )
			return;
		}
	parse(s, m);
	handle(c, is_orig, m);
	raise_events(c, is_orig, m);
	}

function set_state(c: connection)
	{
	if ( c?$pptp )
		return;
	local info = Info($ts=c$start_time, $uid=c$uid, $id=c$id);
	c$pptp = State($conn_info=info, $calls=table(), $active=table(),
	    $without_client_id=set(), $pending_outgoing=table(),
	    $pending_incoming=table());
	}

event tcp_contents(c: connection, is_orig: bool, seq: count, contents: string)
	{
	if ( c$id$resp_p !in ports )
		return;
	set_state(c);
	local st = c$pptp;
	if ( st$lost_framing )
		return;
	local buffer = ( is_orig ? st$buffer_orig : st$buffer_resp ) + contents;
	local messages = 0;
	while ( |buffer| >= 2 )
		{
		local length = bytestring_to_count(buffer[0:2]);
		if ( length < 12 || length > max_message_length )
			{
			Reporter::conn_weird("pptp_impossible_length", c, cat(length), "PPTP");
			st$lost_framing = T;
			buffer = "";
			break;
			}
		if ( |buffer| < length )
			break;
		process(c, is_orig, buffer[0:length]);
		buffer = buffer[length:];
		++messages;
		}
	if ( is_orig )
		st$buffer_orig = buffer;
	else
		st$buffer_resp = buffer;
	if ( messages >= flood_threshold )
		NOTICE([$note=Control_Message_Flood, $conn=c, $msg=fmt(
		    "%d PPTP control messages in one TCP segment from %s",
		    messages, is_orig ? c$id$orig_h : c$id$resp_h),
		    $identifier=cat(c$id$orig_h, c$id$resp_h)]);
	}

## Sets gre_seen and raises GRE_Blocked for a connected call whose GRE is missing one or
## both ways within gre_grace_period. Only a call watched for the whole grace period is
## diagnosed: one cleared sooner, or whose trace ends sooner, never had the chance to
## show its GRE.
function gre_diagnosis(info: Info)
	{
	if ( ! gre_counted || ! info?$connected_at )
		return;
	local limit = info$connected_at + gre_grace_period;
	local client = info?$first_orig_gre && info$first_orig_gre <= limit;
	local server = info?$first_resp_gre && info$first_resp_gre <= limit;
	if ( client && server )
		{
		info$gre_seen = "both";
		return;
		}
	info$gre_seen = client ? "client" : server ? "server" : "none";
	local watched_until = info?$ended_at ? info$ended_at : info?$watched_until ?
	    info$watched_until : last_pptp_activity();
	if ( watched_until < limit )
		return;
	local way = client ? "from the server to the client" : server ?
	    "from the client to the server" : "in either direction";
	notice_once(info, GRE_Blocked, fmt(
	    "PPTP call connected, but no GRE %s within %s: "
	    + "IP protocol 47 is blocked or not forwarded that way", way, gre_grace_period));
	}

function last_pptp_activity(): time
	{
	return last_activity > last_gre_activity ? last_activity : last_gre_activity;
	}

## Adds one GRE flow's counts to its call's direction, and closes the flow.
function add_flow(info: Info, flow: GreFlow, from_client: bool)
	{
	flow$closed = T;
	if ( ! info?$call_end || flow$last > info$call_end )
		info$call_end = flow$last;
	if ( from_client )
		{
		info$orig_gre_pkts += flow$packets;
		info$orig_gre_bytes += flow$bytes;
		info$orig_gre_lost += flow$lost;
		info$orig_gre_duplicate += flow$duplicate;
		info$orig_gre_out_of_order += flow$out_of_order;
		info$orig_gre_out_of_window += flow$out_of_window;
		info$orig_gre_restarts += flow$restarts;
		if ( ! info?$first_orig_gre || flow$first < info$first_orig_gre )
			info$first_orig_gre = flow$first;
		}
	else
		{
		info$resp_gre_pkts += flow$packets;
		info$resp_gre_bytes += flow$bytes;
		info$resp_gre_lost += flow$lost;
		info$resp_gre_duplicate += flow$duplicate;
		info$resp_gre_out_of_order += flow$out_of_order;
		info$resp_gre_out_of_window += flow$out_of_window;
		info$resp_gre_restarts += flow$restarts;
		if ( ! info?$first_resp_gre || flow$first < info$first_resp_gre )
			info$first_resp_gre = flow$first;
		}
	}

function fold_flows(info: Info)
	{
	if ( info?$orig_flows )
		for ( _, flow in info$orig_flows )
			add_flow(info, flow, T);
	if ( info?$resp_flows )
		for ( _, flow in info$resp_flows )
			add_flow(info, flow, F);
	delete info$orig_flows;
	delete info$resp_flows;
	}

function complete(info: Info)
	{
	if ( info?$call_start && info?$call_end )
		info$duration = info$call_end - info$call_start;
	if ( ! info?$auth )
		info$auth = "none";
	info$encrypted = info$mppe_negotiated && info$mppe_seen;
	gre_diagnosis(info);
	Log::write(PPTP::LOG, info);
	}

function finish(info: Info)
	{
	fold_flows(info);
	if ( ! info?$call_kind )
		{
		Log::write(PPTP::LOG, info);
		return;
		}
	if ( hook finishing_call(info) )
		complete(info);
	}

## Drops the GRE keys of a finished call, unless a later call has taken them over.
function forget_link(src: addr, dst: addr, call_id: count, key: string)
	{
	if ( [src, dst, call_id] in gre_links
	    && gre_links[src, dst, call_id]$info$call_key == key )
		delete gre_links[src, dst, call_id];
	if ( [dst, call_id] in gre_receivers
	    && gre_receivers[dst, call_id]$info$call_key == key )
		delete gre_receivers[dst, call_id];
	}

event connection_state_remove(c: connection) &priority=-5
	{
	if ( ! c?$pptp )
		return;
	local st = c$pptp;
	if ( |st$buffer_orig| > 0 || |st$buffer_resp| > 0 )
		Reporter::conn_weird("pptp_truncated", c, "", "PPTP");
	if ( |st$calls| == 0 )
		{
		finish(st$conn_info);
		return;
		}
	# In call order, so the log is too.
	local index = 0;
	while ( index < st$next_call )
		{
		local call = st$calls[index];
		++index;
		finish(call);
		# A refused call's keys were never linked, a learnt call may lack one.
		if ( call?$server_call_id )
			forget_link(c$id$orig_h, c$id$resp_h, call$server_call_id, call$call_key);
		if ( call?$client_call_id )
			forget_link(c$id$resp_h, c$id$orig_h, call$client_call_id, call$call_key);
		}
	}
