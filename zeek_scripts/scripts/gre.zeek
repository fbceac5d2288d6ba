##! Enhanced GRE (RFC 2637 §4) of PPTP calls: ties each GRE packet to its call, counts it,
##! runs sequence analysis and looks into the PPP frame (authentication, CCP/MPPE, IP).
##!
##! Zeek decapsulates GRE itself and hands scripts only the inner IP packets, so this reads
##! the GRE header of every IP protocol 47 packet in a ``raw_packet`` handler, keeping
##! Zeek's own GRE tunnel handling unchanged. ``raw_packet`` is an event for every packet
##! of all traffic: set ``PPTP::analyze_gre = F`` to switch the handler off (its event
##! group is disabled, so Zeek then does not even raise the event) and pay nothing.

@load ./main

module PPTP;

export {
	## Sequence numbers remembered per call direction for duplicate detection:
	## every number within this many of one seen later is recognised when it
	## comes again.
	option sequence_window = 4096;
}

## Sequence analysis of one call direction (RFC 1982 serial arithmetic).
type Sequence: record {
	## The lowest number seen (in serial order): losses count from here.
	first: count;
	highest: count;
	## A ring of the numbers seen: slot (number mod sequence_window) -> number.
	seen: table[count] of count;
};

global sequences: table[string, bool] of Sequence
    &read_expire=call_state_timeout;

## GRE source/destination pairs already reported without a control connection.
global unknown_gre: set[addr, addr] &create_expire=call_state_timeout;

const half = 2147483648;
const wrap = 4294967296;

## Adds ``lost`` (which may be -1) to a direction's lost count, never below 0: a
## repeat older than the window looks like a late arrival.
function add_lost(info: Info, from_client: bool, lost: int)
	{
	local total: int = from_client ? info$orig_gre_lost : info$resp_gre_lost;
	total += lost;
	if ( total < 0 )
		total = 0;
	if ( from_client )
		info$orig_gre_lost = int_to_count(total);
	else
		info$resp_gre_lost = int_to_count(total);
	}

function observe(info: Info, from_client: bool, seq: count)
	{
	local key = info$call_key;
	local slot = seq % sequence_window;
	if ( [key, from_client] !in sequences )
		{
		local ring: table[count] of count;
		ring[slot] = seq;
		sequences[key, from_client] = Sequence($first=seq, $highest=seq, $seen=ring);
		return;
		}
	local s = sequences[key, from_client];
	if ( slot in s$seen && s$seen[slot] == seq )
		{
		if ( from_client )
			++info$orig_gre_duplicate;
		else
			++info$resp_gre_duplicate;
		return;
		}
	s$seen[slot] = seq;
	local ahead = ( seq + wrap - s$highest ) % wrap;
	if ( ahead > 0 && ahead < half )
		{
		s$highest = seq;
		add_lost(info, from_client, ahead - 1);
		return;
		}
	if ( from_client )
		++info$orig_gre_out_of_order;
	else
		++info$resp_gre_out_of_order;
	local behind_first = ( s$first + wrap - seq ) % wrap;
	if ( behind_first > 0 && behind_first < half )
		{
		# Behind the first number seen: the numbers start here, and the ones
		# between it and the old first were lost.
		s$first = seq;
		add_lost(info, from_client, behind_first - 1);
		}
	else
		# An unseen number between the first and the highest: it was counted
		# lost and has now arrived.
		add_lost(info, from_client, -1);
	}

## The authentication protocol of an LCP Configure-Ack's options, or "".
function lcp_auth(options: string): string
	{
	local at = 0;
	while ( at + 2 <= |options| )
		{
		local kind = bytestring_to_count(options[at]);
		local size = bytestring_to_count(options[at + 1]);
		if ( size < 2 || at + size > |options| )
			return "";
		if ( kind == 3 && size >= 4 )
			{
			local proto = bytestring_to_count(options[at + 2 : at + 4]);
			if ( proto == 0xC023 )
				return "PAP";
			if ( proto == 0xC227 )
				return "EAP";
			if ( proto == 0xC223 && size >= 5 )
				{
				local algorithm = bytestring_to_count(options[at + 4]);
				if ( algorithm == 5 )
					return "CHAP-MD5";
				if ( algorithm == 0x80 )
					return "MS-CHAPv1";
				if ( algorithm == 0x81 )
					return "MS-CHAPv2";
				}
			return fmt("0x%04x", proto);
			}
		at += size;
		}
	return "";
	}

## Whether a CCP Configure-Ack's options carry MPPE (option 18).
function ccp_mppe(options: string): bool
	{
	local at = 0;
	while ( at + 2 <= |options| )
		{
		local size = bytestring_to_count(options[at + 1]);
		if ( bytestring_to_count(options[at]) == 18 )
			return T;
		if ( size < 2 )
			return F;
		at += size;
		}
	return F;
	}

function inspect_ppp(info: Info, ppp: string)
	{
	local at = 0;
	if ( |ppp| >= 2 && ppp[0:2] == "\xff\x03" )
		at = 2; # address and control, unless compressed away (ACFC)
	if ( at >= |ppp| )
		return;
	local proto: count;
	if ( bytestring_to_count(ppp[at]) % 2 == 1 )
		{
		proto = bytestring_to_count(ppp[at]); # protocol field compression (PFC)
		at += 1;
		}
	else
		{
		if ( at + 2 > |ppp| )
			return;
		proto = bytestring_to_count(ppp[at : at + 2]);
		at += 2;
		}
	if ( ! info?$ppp_protocols )
		info$ppp_protocols = set();
	add info$ppp_protocols[ppp_protocols[proto]];
	local code = at < |ppp| ? bytestring_to_count(ppp[at]) : 0;
	# Configure-Ack (code 2): options from offset 4 of the control protocol packet.
	if ( proto == 0xC021 && code == 2 )
		{
		local auth = lcp_auth(ppp[at + 4 :]);
		if ( auth != "" )
			{
			info$auth = auth;
			if ( auth in weak_authentication )
				notice_once(info, Weak_Authentication, fmt("PPTP call negotiated %s "
				    + "authentication", auth));
			}
		}
	else if ( proto == 0x80FD && code == 2 && ccp_mppe(ppp[at + 4 :]) )
		info$mppe_negotiated = T;
	else if ( proto == 0x00FD )
		info$mppe_seen = T;
	else if ( proto == 0x0021 || proto == 0x0057 )
		{
		info$cleartext = T;
		notice_once(info, Cleartext_Tunnel,
		    "IP inside a PPTP tunnel without MPPE encryption");
		}
	}

function gre_weird(src: addr, dst: addr, name: string, detail: string)
	{
	Reporter::net_weird(name, fmt("%s -> %s %s", src, dst, detail));
	}

## GRE no control connection set up: a weird, and the notice once per address pair.
function gre_without_control(src: addr, dst: addr, call_id: count)
	{
	gre_weird(src, dst, "pptp_gre_without_call", cat(call_id));
	if ( [src, dst] in unknown_gre || [dst, src] in unknown_gre )
		return;
	add unknown_gre[src, dst];
	NOTICE([$note=GRE_Without_Control, $src=src, $dst=dst, $msg=fmt(
	    "PPTP GRE from %s to %s (Call ID %d) with no control connection seen",
	    src, dst, call_id), $identifier=cat(src, dst)]);
	}

## Analyzes one enhanced GRE packet (the IP payload, from its GRE header on).
function analyze_gre_packet(src: addr, dst: addr, gre: string)
	{
	if ( |gre| < 4 )
		{
		gre_weird(src, dst, "pptp_gre_header_truncated", cat(|gre|));
		return;
		}
	local flags = bytestring_to_count(gre[0:2]);
	if ( flags % 8 != 1 )
		return; # not enhanced GRE: Zeek's own GRE handling only
	local protocol = bytestring_to_count(gre[2:4]);
	# A packet with a malformed header gets its weird and is not counted to any call.
	local broken = F;
	if ( protocol == gre_protocol_ppp )
		last_activity = network_time();
	else
		{
		gre_weird(src, dst, "pptp_gre_wrong_protocol", fmt("0x%04x", protocol));
		broken = T;
		}
	if ( flags / 0x8000 % 2 == 1
	    || flags / 0x4000 % 2 == 1
	    || flags / 0x0800 % 2 == 1
	    || flags / 0x0100 % 8 != 0
	    || flags / 8 % 16 != 0 )
		{
		gre_weird(src, dst, "pptp_gre_reserved_flags", fmt("0x%04x", flags));
		broken = T;
		}
	if ( flags / 0x2000 % 2 == 0 )
		{
		gre_weird(src, dst, "pptp_gre_key_missing", "");
		return;
		}
	local at = 4;
	if ( flags / 0x4000 % 4 != 0 )
		at += 4; # checksum/offset word of C or R
	if ( |gre| < at + 4 )
		{
		gre_weird(src, dst, "pptp_gre_header_truncated", cat(|gre|));
		return;
		}
	local payload_length = bytestring_to_count(gre[at : at + 2]);
	local call_id = bytestring_to_count(gre[at + 2 : at + 4]);
	at += 4;
	local has_seq = flags / 0x1000 % 2 == 1;
	local has_ack = flags / 0x80 % 2 == 1;
	local seq = 0;
	if ( has_seq )
		{
		if ( |gre| < at + 4 )
			{
			gre_weird(src, dst, "pptp_gre_header_truncated", cat(|gre|));
			return;
			}
		seq = bytestring_to_count(gre[at : at + 4]);
		at += 4;
		}
	if ( has_ack )
		at += 4;
	if ( |gre| < at )
		{
		gre_weird(src, dst, "pptp_gre_header_truncated", cat(|gre|));
		return;
		}
	local payload = gre[at:];
	if ( payload_length != |payload| )
		{
		gre_weird(src, dst, "pptp_gre_payload_length_mismatch", fmt("%d of %d",
		    payload_length, |payload|));
		broken = T;
		}
	if ( ! has_seq && |payload| > 0 )
		{
		gre_weird(src, dst, "pptp_gre_ack_only_with_payload", "");
		broken = T;
		}

	if ( broken )
		return;
	local link: GreLink;
	if ( [src, dst, call_id] in gre_links )
		link = gre_links[src, dst, call_id];
	else if ( [dst, call_id] in gre_receivers )
		{
		link = gre_receivers[dst, call_id];
		gre_weird(src, dst, "pptp_gre_address_mismatch", cat(call_id));
		notice_once(link$info, GRE_Address_Mismatch, fmt(
		    "GRE of PPTP Call ID %d comes "
		    + "from %s, not from its control connection's peer", call_id, src));
		}
	else if ( ! hook gre_without_call(src, dst, call_id) )
		link = gre_links[src, dst, call_id];
	else
		{
		gre_without_control(src, dst, call_id);
		return;
		}
	local info = link$info;
	info$call_end = network_time();
	if ( link$from_client )
		{
		if ( ! info?$first_orig_gre )
			info$first_orig_gre = network_time();
		++info$orig_gre_pkts;
		info$orig_gre_bytes += |payload|;
		}
	else
		{
		if ( ! info?$first_resp_gre )
			info$first_resp_gre = network_time();
		++info$resp_gre_pkts;
		info$resp_gre_bytes += |payload|;
		}
	if ( has_seq )
		observe(info, link$from_client, seq);
	if ( |payload| > 0 && protocol == gre_protocol_ppp )
		inspect_ppp(info, payload);
	}

## Finds GRE in an Ethernet frame: over IPv4 or IPv6, also inside IP-in-IP (4in6, 6in4,
## 4in4), and hands it to analyze_gre_packet.
function frame_gre(data: string)
	{
	local at = 14;
	if ( |data| < at )
		return;
	local ethertype = bytestring_to_count(data[12:14]);
	while ( ( ethertype == 0x8100 || ethertype == 0x88A8 ) && |data| >= at + 4 )
		{
		ethertype = bytestring_to_count(data[at + 2 : at + 4]);
		at += 4;
		}
	local version = ethertype == 0x0800 ? 4 : ethertype == 0x86DD ? 6 : 0;
	local depth = 0;
	while ( version != 0 && depth < 3 )
		{
		++depth;
		local header = 40;
		local end_at = 0;
		local inner = 0;
		if ( version == 4 )
			{
			if ( |data| < at + 20 )
				return;
			header = ( bytestring_to_count(data[at]) % 16 ) * 4;
			end_at = at + bytestring_to_count(data[at + 2 : at + 4]);
			inner = bytestring_to_count(data[at + 9]);
			}
		else
			{
			if ( |data| < at + 40 )
				return;
			end_at = at + 40 + bytestring_to_count(data[at + 4 : at + 6]);
			inner = bytestring_to_count(data[at + 6]); # extension headers are not followed
			}
		if ( header < 20 || end_at < at + header || |data| < end_at )
			return;
		if ( inner == 47 )
			{
			local src = version == 4 ? raw_bytes_to_v4_addr(data[at + 12 : at + 16]) :
			    raw_bytes_to_v6_addr(data[at + 8 : at + 24]);
			local dst = version == 4 ? raw_bytes_to_v4_addr(data[at + 16 : at + 20]) :
			    raw_bytes_to_v6_addr(data[at + 24 : at + 40]);
			analyze_gre_packet(src, dst, data[at + header : end_at]);
			return;
			}
		version = inner == 4 ? 4 : inner == 41 ? 6 : 0;
		at += header;
		}
	}

event raw_packet(p: raw_pkt_hdr) &group="pptp-gre"
	{
	# raw_pkt_hdr has the outer IP header: GRE there, or IP-in-IP that may carry it.
	local proto = p?$ip ? p$ip$p : p?$ip6 ? p$ip6$nxt : 0;
	if ( proto != 47 && proto != 4 && proto != 41 )
		return;
	if ( p$l2$encap != LINK_ETHERNET || p$l2$len != p$l2$cap_len )
		return;
	frame_gre(get_current_packet()$data);
	}

function gre_switch(id: string, new_value: bool): bool
	{
	if ( new_value )
		enable_event_group("pptp-gre");
	else
		disable_event_group("pptp-gre");
	return new_value;
	}

event zeek_init()
	{
	Option::set_change_handler("PPTP::analyze_gre", gre_switch);
	gre_switch("PPTP::analyze_gre", analyze_gre);
	}
