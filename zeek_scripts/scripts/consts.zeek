##! Constants of PPTP (RFC 2637) and the PPP protocols seen inside its tunnels.

module PPTP;

export {
	## Names of the 15 control message types (RFC 2637 §2).
	const message_types: table[count] of string = {
		[1] = "Start-Control-Connection-Request",
		[2] = "Start-Control-Connection-Reply",
		[3] = "Stop-Control-Connection-Request",
		[4] = "Stop-Control-Connection-Reply",
		[5] = "Echo-Request",
		[6] = "Echo-Reply",
		[7] = "Outgoing-Call-Request",
		[8] = "Outgoing-Call-Reply",
		[9] = "Incoming-Call-Request",
		[10] = "Incoming-Call-Reply",
		[11] = "Incoming-Call-Connected",
		[12] = "Call-Clear-Request",
		[13] = "Call-Disconnect-Notify",
		[14] = "WAN-Error-Notify",
		[15] = "Set-Link-Info",
	} &default=function(n: count): string
		{
		return fmt("unknown-%d", n);
		};

	## Length in octets of each control message type, header included.
	const message_lengths: table[count] of count = {
		[1] = 156,
		[2] = 156,
		[3] = 16,
		[4] = 16,
		[5] = 16,
		[6] = 20,
		[7] = 168,
		[8] = 32,
		[9] = 220,
		[10] = 24,
		[11] = 28,
		[12] = 16,
		[13] = 148,
		[14] = 40,
		[15] = 24,
	};

	## The magic cookie every control message carries.
	const magic_cookie = 0x1A2B3C4D;

	## Outgoing-Call-Reply result codes (RFC 2637 §2.8).
	const outgoing_call_results: table[count] of string = {
		[1] = "Connected",
		[2] = "General error",
		[3] = "No Carrier",
		[4] = "Busy",
		[5] = "No Dial Tone",
		[6] = "Time-out",
		[7] = "Do Not Accept",
	} &default=function(n: count): string
		{
		return fmt("unknown-%d", n);
		};

	## Call-Disconnect-Notify result codes (RFC 2637 §2.13).
	const disconnect_results: table[count] of string = {
		[1] = "Lost Carrier",
		[2] = "General error",
		[3] = "Admin Shutdown",
		[4] = "Request",
	} &default=function(n: count): string
		{
		return fmt("unknown-%d", n);
		};

	## GRE protocol type of PPP, the payload of enhanced GRE.
	const gre_protocol_ppp = 0x880B;

	## PPP protocol numbers inside the tunnel and the names pptp.log uses.
	const ppp_protocols: table[count] of string = {
		[0x0021] = "IP",
		[0x0057] = "IPV6",
		[0x00FD] = "MPPE",
		[0x8021] = "IPCP",
		[0x8057] = "IPV6CP",
		[0x80FD] = "CCP",
		[0xC021] = "LCP",
		[0xC023] = "PAP",
		[0xC223] = "CHAP",
		[0xC227] = "EAP",
	} &default=function(n: count): string
		{
		return fmt("0x%04x", n);
		};

	## Authentication protocols negotiated by LCP that are weak (crackable offline or
	## sent in the clear).
	const weak_authentication: set[string] = {
		"PAP",
		"CHAP-MD5",
		"MS-CHAPv1",
		"MS-CHAPv2",
	};
}
