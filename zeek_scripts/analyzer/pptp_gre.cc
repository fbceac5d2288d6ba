// The PPTP GRE analyzer's work: every GRE packet Zeek's IP analyzer hands to pptp_gre.spicy
// comes here whole. It reads the enhanced-GRE header (RFC 2637 §4.1) and the start of the PPP
// frame in it, counts the packet to its flow (one direction of one call's GRE: [source,
// destination, Call ID]) with sequence analysis, reports header anomalies as weirds and
// findings as events, and lets the packet go on, unchanged, to Zeek's own GRE analyzer.
//
// It is C++ rather than a Spicy grammar for speed: a sensor runs it on every GRE packet, and
// each field a Spicy unit parses costs hundreds of instructions (its hooks, optionals and
// safe integers), several times what reading the whole header here costs.

#include <hilti/rt/libhilti.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <zeek/Event.h>
#include <zeek/EventRegistry.h>
#include <zeek/ID.h>
#include <zeek/IP.h>
#include <zeek/IPAddr.h>
#include <zeek/RunState.h>
#include <zeek/Val.h>
#include <zeek/iosource/Packet.h>
#include <zeek/spicy/cookie.h>
#include <zeek/spicy/runtime-support.h>

namespace pptp_gre {

namespace {

// ---- Enhanced GRE and PPP: nothing here knows Zeek ----

// GRE protocol type of PPP, the payload of enhanced GRE.
constexpr uint16_t PROTOCOL_PPP = 0x880b;

// PPP protocol numbers the analysis looks into.
constexpr uint16_t PPP_LCP = 0xc021;
constexpr uint16_t PPP_CCP = 0x80fd;
constexpr uint16_t PPP_PAP = 0xc023;
constexpr uint16_t PPP_CHAP = 0xc223;
constexpr uint16_t PPP_EAP = 0xc227;

// Bits of the flags-and-version word (RFC 1701 §2.1, RFC 2637 §4.1): checksum (C), routing
// (R), key (K), sequence number (S), strict source route (s), recursion control (3 bits),
// acknowledgment number (A), flags (4 bits, reserved), version (3 bits).
constexpr uint16_t FLAG_CHECKSUM = 0x8000;
constexpr uint16_t FLAG_ROUTING = 0x4000;
constexpr uint16_t FLAG_KEY = 0x2000;
constexpr uint16_t FLAG_SEQUENCE = 0x1000;
constexpr uint16_t FLAG_ACKNOWLEDGMENT = 0x0080;
constexpr uint16_t VERSION_MASK = 0x0007;
// C, R, s, recursion control and the flags after A: all zero in enhanced GRE.
constexpr uint16_t RESERVED_MASK = 0xcf78;

uint16_t read16(const uint8_t* at) { return static_cast<uint16_t>((at[0] << 8) | at[1]); }

uint32_t read32(const uint8_t* at) {
    return (static_cast<uint32_t>(at[0]) << 24) | (static_cast<uint32_t>(at[1]) << 16) |
           (static_cast<uint32_t>(at[2]) << 8) | at[3];
}

std::string hex16(uint16_t value) {
    char text[8];
    snprintf(text, sizeof(text), "0x%04x", value);
    return text;
}

// Something wrong with a packet's header: its weird's name (after "pptp_gre_") and what to
// add to it.
struct Anomaly {
    const char* name;
    std::string detail;
};

// What a GRE packet's header says.
struct Header {
    // GRE version 1: PPTP's enhanced GRE. Anything else is not ours to read.
    bool enhanced = false;
    // It carries PPP (protocol 0x880B).
    bool ppp_carried = false;
    // Sound: enhanced, PPP, every field its flags announce present, and no anomaly. Only a
    // sound packet counts to a flow.
    bool sound = false;
    uint16_t call_id = 0;
    std::optional<uint32_t> sequence_number;
    // The octets before the PPP frame, and the frame's.
    size_t length = 0;
    size_t payload_size = 0;
    std::vector<Anomaly> anomalies;
};

// The octets of the header that `flags` announce (checksum/offset, key, sequence and
// acknowledgment number each add four).
size_t header_length(uint16_t flags) {
    size_t size = 4;
    if ( flags & (FLAG_CHECKSUM | FLAG_ROUTING) )
        size += 4;
    if ( flags & FLAG_KEY )
        size += 4;
    if ( flags & FLAG_SEQUENCE )
        size += 4;
    if ( flags & FLAG_ACKNOWLEDGMENT )
        size += 4;
    return size;
}

// The header of the `size` octets of a GRE packet at `data`.
Header read_header(const uint8_t* data, size_t size) {
    Header header;
    if ( size < 4 ) {
        header.anomalies.push_back({"header_truncated", std::to_string(size)});
        return header;
    }
    uint16_t flags = read16(data);
    uint16_t protocol = read16(data + 2);
    if ( (flags & VERSION_MASK) != 1 )
        return header;
    header.enhanced = true;
    header.ppp_carried = protocol == PROTOCOL_PPP;
    if ( ! header.ppp_carried )
        header.anomalies.push_back({"wrong_protocol", hex16(protocol)});
    if ( flags & RESERVED_MASK )
        header.anomalies.push_back({"reserved_flags", hex16(flags)});
    if ( ! (flags & FLAG_KEY) ) {
        header.anomalies.push_back({"key_missing", ""});
        return header;
    }
    header.length = header_length(flags);
    if ( size < header.length ) {
        header.anomalies.push_back({"header_truncated", std::to_string(size)});
        return header;
    }
    header.payload_size = size - header.length;
    // The key follows the checksum and offset if the packet has them; the sequence number
    // follows the key.
    const uint8_t* key = data + ((flags & (FLAG_CHECKSUM | FLAG_ROUTING)) ? 8 : 4);
    size_t payload_length = read16(key);
    header.call_id = read16(key + 2);
    if ( flags & FLAG_SEQUENCE )
        header.sequence_number = read32(key + 4);
    if ( payload_length != header.payload_size )
        header.anomalies.push_back({"payload_length_mismatch",
                                    std::to_string(payload_length) + " of " + std::to_string(header.payload_size)});
    if ( ! header.sequence_number && header.payload_size > 0 )
        header.anomalies.push_back({"ack_only_with_payload", ""});
    header.sound = header.ppp_carried && header.anomalies.empty();
    return header;
}

// What the start of a PPP frame, and a frame read whole, say.
struct PppFrame {
    // The frame has a protocol field: its number, and where its information field starts.
    bool has_protocol = false;
    uint16_t protocol = 0;
    size_t info = 0;
    // The authentication protocol an LCP Configure-Ack settles on, or "".
    std::string authentication;
    // A CCP Configure-Ack settles on MPPE.
    bool mppe_negotiated = false;
    // A PAP, CHAP or EAP packet names the user who authenticates: the name.
    std::optional<std::string> identity;
};

// The authentication protocol in the options of an LCP packet whose information field
// starts at `info` (RFC 1661 §6.2, RFC 1994, RFC 2433, RFC 2759, RFC 3748): "PAP",
// "CHAP-MD5", "MS-CHAPv1", "MS-CHAPv2", "EAP", another protocol in hex, or "" if none.
std::string lcp_authentication(const uint8_t* frame, size_t size, size_t info) {
    for ( size_t at = info + 4; at + 2 <= size; ) {
        uint8_t kind = frame[at];
        size_t option_size = frame[at + 1];
        if ( option_size < 2 || at + option_size > size )
            return "";
        if ( kind == 3 && option_size >= 4 ) {
            uint16_t protocol = read16(frame + at + 2);
            if ( protocol == PPP_PAP )
                return "PAP";
            if ( protocol == PPP_EAP )
                return "EAP";
            if ( protocol == PPP_CHAP && option_size >= 5 ) {
                switch ( frame[at + 4] ) {
                    case 5: return "CHAP-MD5";
                    case 0x80: return "MS-CHAPv1";
                    case 0x81: return "MS-CHAPv2";
                    default: break;
                }
            }
            return hex16(protocol);
        }
        at += option_size;
    }
    return "";
}

// Whether the options of a CCP packet whose information field starts at `info` offer MPPE
// (option 18, RFC 3078 §2).
bool ccp_mppe(const uint8_t* frame, size_t size, size_t info) {
    for ( size_t at = info + 4; at + 2 <= size; ) {
        if ( frame[at] == 18 )
            return true;
        size_t option_size = frame[at + 1];
        if ( option_size < 2 )
            return false;
        at += option_size;
    }
    return false;
}

// The user name a client authenticates with, if the PAP, CHAP or EAP packet of `protocol`
// whose information field starts at `info` carries one: the Peer-ID of a PAP
// Authenticate-Request (RFC 1334 §2.2.1), the Name of a CHAP Response (RFC 1994 §4.1;
// MS-CHAP's too, RFC 2433 and RFC 2759), the identity of an EAP Response/Identity (RFC 3748
// §5.1). The packet ends at its length field or at the frame's end, whichever comes first.
std::optional<std::string> peer_identity(uint16_t protocol, const uint8_t* frame, size_t size, size_t info) {
    if ( info + 4 > size )
        return {};
    uint8_t code = frame[info];
    size_t last = std::min(info + read16(frame + info + 2), size);
    if ( last <= info + 4 )
        return {};
    // The Peer-ID's or Value's length, or EAP's type.
    size_t first = frame[info + 4];
    // The octets from `low` to `high`, both cut to the frame.
    auto slice = [&](size_t low, size_t high) {
        high = std::min(high, size);
        low = std::min(low, high);
        return std::string(reinterpret_cast<const char*>(frame + low), high - low);
    };
    if ( protocol == PPP_PAP && code == 1 )
        return slice(info + 5, info + 5 + first);
    if ( protocol == PPP_CHAP && code == 2 )
        return slice(info + 5 + first, last);
    if ( protocol == PPP_EAP && code == 2 && first == 1 )
        return slice(info + 5, last);
    return {};
}

// The start of the PPP frame of `size` octets at `frame` (RFC 1661, with or without the ff 03
// address and control field, ACFC, and with a one-octet protocol field, PFC, an odd first
// octet), and for the LCP, CCP, PAP, CHAP and EAP frames of a call's start, not encrypted,
// what they settle or name.
PppFrame read_ppp(const uint8_t* frame, size_t size) {
    PppFrame ppp;
    size_t at = (size >= 2 && frame[0] == 0xff && frame[1] == 0x03) ? 2 : 0;
    if ( at >= size )
        return ppp;
    if ( frame[at] & 1 ) {
        ppp.protocol = frame[at];
        ppp.info = at + 1;
    }
    else {
        if ( at + 2 > size )
            return ppp;
        ppp.protocol = read16(frame + at);
        ppp.info = at + 2;
    }
    ppp.has_protocol = true;
    // A frame of fewer than four octets is not read further.
    if ( size < 4 )
        return ppp;
    switch ( ppp.protocol ) {
        case PPP_LCP:
        case PPP_CCP:
            // Only a Configure-Ack (code 2) settles anything.
            if ( ppp.info >= size || frame[ppp.info] != 2 )
                break;
            if ( ppp.protocol == PPP_LCP )
                ppp.authentication = lcp_authentication(frame, size, ppp.info);
            else
                ppp.mppe_negotiated = ccp_mppe(frame, size, ppp.info);
            break;
        case PPP_PAP:
        case PPP_CHAP:
        case PPP_EAP: ppp.identity = peer_identity(ppp.protocol, frame, size, ppp.info); break;
        default: break;
    }
    return ppp;
}

// Sequence analysis of one flow, in RFC 1982 serial arithmetic. A number ahead of the highest
// seen by d means d - 1 lost numbers; one already seen is a duplicate; an unseen one behind
// the highest is out of order: a late arrival of a number counted lost, or, behind the first
// number seen, the new start of the numbers. Numbers are remembered in a ring of `window`
// slots, so a repeat is recognised while no number `window` later has taken its slot. The
// ring is made at the first number out of line: until then the numbers seen are those from
// the first to the highest, each once, and a flow without loss or reordering (most) never
// needs one.
class Sequence {
public:
    explicit Sequence(uint64_t window) : window_(window > 0 ? window : 1) {}

    void observe(uint32_t number) {
        if ( ! started_ ) {
            started_ = true;
            first_ = highest_ = number;
            return;
        }
        if ( seen_.empty() ) {
            if ( static_cast<uint32_t>(number - highest_) == 1 ) {
                highest_ = number;
                return;
            }
            leave_line();
        }
        auto [slot, fresh] = seen_.try_emplace(number % window_, number);
        if ( ! fresh && slot->second == number ) {
            ++duplicate;
            return;
        }
        slot->second = number;
        uint32_t ahead = number - highest_;
        if ( ahead > 0 && ahead < HALF ) {
            highest_ = number;
            lost += ahead - 1;
            return;
        }
        ++out_of_order;
        uint32_t behind_first = first_ - number;
        if ( behind_first > 0 && behind_first < HALF ) {
            // The numbers start here, and the ones up to the old first were lost.
            first_ = number;
            lost += behind_first - 1;
        }
        else if ( lost > 0 )
            // A late arrival (never below zero: a repeat older than the window looks like one).
            --lost;
    }

    uint64_t lost = 0;
    uint64_t duplicate = 0;
    uint64_t out_of_order = 0;

private:
    static constexpr uint32_t HALF = 0x80000000;

    // Fills the ring with the numbers seen while in line: the last `window` of
    // first..highest (at least one, so the ring is never empty again).
    void leave_line() {
        uint64_t run = std::min<uint64_t>(static_cast<uint64_t>(static_cast<uint32_t>(highest_ - first_)) + 1,
                                          window_);
        for ( uint64_t back = 0; back < run; ++back ) {
            uint32_t seen = highest_ - static_cast<uint32_t>(back);
            seen_[seen % window_] = seen;
        }
    }

    uint64_t window_;
    bool started_ = false;
    // The lowest number seen, in serial order: losses count from here.
    uint32_t first_ = 0;
    uint32_t highest_ = 0;
    // Ring slot (number modulo window) -> the number last seen in it; empty while in line.
    std::unordered_map<uint64_t, uint32_t> seen_;
};

// ---- Zeek's side: flows, weirds, events ----

// A flow: one direction of one call's GRE.
struct FlowKey {
    zeek::IPAddr src;
    zeek::IPAddr dst;
    uint16_t call_id;

    bool operator==(const FlowKey& other) const {
        return call_id == other.call_id && src == other.src && dst == other.dst;
    }
};

struct FlowKeyHash {
    size_t operator()(const FlowKey& key) const {
        uint32_t src[4];
        uint32_t dst[4];
        key.src.CopyIPv6(src);
        key.dst.CopyIPv6(dst);
        // FNV-1a over the address words and the Call ID.
        uint64_t hash = 0xcbf29ce484222325;
        auto mix = [&hash](uint64_t word) { hash = (hash ^ word) * 0x100000001b3; };
        for ( int i = 0; i < 4; ++i ) {
            mix(src[i]);
            mix(dst[i]);
        }
        mix(key.call_id);
        return hash;
    }
};

// A flow's counters. Each packet copies them into the flow's Zeek record (PPTP::GreFlow),
// which scripts hold and read when they log a call.
struct Flow {
    zeek::RecordValPtr record;
    uint64_t packets = 0;
    uint64_t octets = 0;
    double last = 0;
    Sequence sequence;
    // PPP protocols already reported for the flow, and authentication protocols whose user
    // name was: a handful each.
    std::vector<uint16_t> protocols;
    std::vector<uint16_t> identities;
};

// Adds `value` to `seen` unless it is there; whether it was new.
bool first_of(std::vector<uint16_t>& seen, uint16_t value) {
    for ( auto known : seen )
        if ( known == value )
            return false;
    seen.push_back(value);
    return true;
}

// Packets between sweeps of the flows for closed and idle ones, at least.
constexpr uint64_t SWEEP_AFTER = 1024;

// What the analyzer keeps, and the script-level names it uses, looked up once.
struct State {
    zeek::RecordTypePtr flow_type = zeek::id::find_type<zeek::RecordType>("PPTP::GreFlow");
    int src = flow_type->FieldOffset("src");
    int dst = flow_type->FieldOffset("dst");
    int call_id = flow_type->FieldOffset("call_id");
    int first = flow_type->FieldOffset("first");
    int last = flow_type->FieldOffset("last");
    int packets = flow_type->FieldOffset("packets");
    int bytes = flow_type->FieldOffset("bytes");
    int lost = flow_type->FieldOffset("lost");
    int duplicate = flow_type->FieldOffset("duplicate");
    int out_of_order = flow_type->FieldOffset("out_of_order");
    int closed = flow_type->FieldOffset("closed");

    zeek::detail::IDPtr sequence_window = zeek::id::find("PPTP::sequence_window");
    zeek::detail::IDPtr call_state_timeout = zeek::id::find("PPTP::call_state_timeout");
    zeek::detail::IDPtr last_gre_activity = zeek::id::find("PPTP::last_gre_activity");

    zeek::EventHandlerPtr flow_begin = zeek::event_registry->Lookup("PPTP::gre_flow_begin");
    zeek::EventHandlerPtr ppp_protocol = zeek::event_registry->Lookup("PPTP::gre_ppp_protocol");
    zeek::EventHandlerPtr authentication = zeek::event_registry->Lookup("PPTP::gre_authentication");
    zeek::EventHandlerPtr identity = zeek::event_registry->Lookup("PPTP::gre_identity");
    zeek::EventHandlerPtr mppe_negotiated = zeek::event_registry->Lookup("PPTP::gre_mppe_negotiated");

    std::unordered_map<FlowKey, Flow, FlowKeyHash> flows;
    // Packets since flows were last swept.
    uint64_t since_sweep = 0;

    bool closed_by_scripts(const Flow& flow) const { return flow.record->GetFieldAs<zeek::BoolVal>(closed); }

    // Drops flows that scripts closed or that saw no packet for PPTP::call_state_timeout. Run
    // once the packets since the last sweep (at least SWEEP_AFTER) are more than half the
    // flows: each packet pays for at most two flows' checks, and flows are swept even while
    // every packet begins one.
    void sweep(double now) {
        since_sweep = 0;
        double timeout = call_state_timeout->GetVal()->AsInterval();
        for ( auto flow = flows.begin(); flow != flows.end(); ) {
            if ( flow->second.last + timeout <= now || closed_by_scripts(flow->second) )
                flow = flows.erase(flow);
            else
                ++flow;
        }
    }

    // The flow of a sound packet's key, begun anew if scripts closed the last one: announced
    // to scripts with its record.
    Flow& flow_of(const FlowKey& key, double now) {
        auto found = flows.find(key);
        if ( found != flows.end() && ! closed_by_scripts(found->second) )
            return found->second;
        auto record = zeek::make_intrusive<zeek::RecordVal>(flow_type);
        record->Assign(src, zeek::make_intrusive<zeek::AddrVal>(key.src));
        record->Assign(dst, zeek::make_intrusive<zeek::AddrVal>(key.dst));
        record->Assign(call_id, static_cast<uint64_t>(key.call_id));
        record->AssignTime(first, now);
        record->AssignTime(last, now);
        for ( auto counter : {packets, bytes, lost, duplicate, out_of_order} )
            record->Assign(counter, uint64_t{0});
        record->Assign(closed, false);
        if ( flow_begin )
            zeek::event_mgr.Enqueue(flow_begin, record);
        Flow flow{record, 0, 0, now, Sequence(sequence_window->GetVal()->AsCount()), {}, {}};
        return flows.insert_or_assign(key, std::move(flow)).first->second;
    }

    // Counts a sound packet to its flow, and tells scripts what is new in it.
    void count(const FlowKey& key, const Header& header, const PppFrame& ppp, double now) {
        Flow& flow = flow_of(key, now);
        flow.packets += 1;
        flow.octets += header.payload_size;
        flow.last = now;
        auto& record = *flow.record;
        record.Assign(packets, flow.packets);
        record.Assign(bytes, flow.octets);
        record.AssignTime(last, now);
        if ( header.sequence_number ) {
            flow.sequence.observe(*header.sequence_number);
            record.Assign(lost, flow.sequence.lost);
            record.Assign(duplicate, flow.sequence.duplicate);
            record.Assign(out_of_order, flow.sequence.out_of_order);
        }
        bool new_protocol = ppp.has_protocol && first_of(flow.protocols, ppp.protocol);
        bool new_identity = ppp.identity && first_of(flow.identities, ppp.protocol);
        if ( new_protocol || new_identity || ! ppp.authentication.empty() || ppp.mppe_negotiated )
            announce(key, ppp, new_protocol, new_identity);
        if ( ++since_sweep >= SWEEP_AFTER && 2 * since_sweep > flows.size() )
            sweep(now);
    }

    // The events of what a packet's PPP frame shows: a protocol or user name new in its flow,
    // an authentication protocol or MPPE settled.
    void announce(const FlowKey& key, const PppFrame& ppp, bool new_protocol, bool new_identity) const {
        auto src_val = zeek::make_intrusive<zeek::AddrVal>(key.src);
        auto dst_val = zeek::make_intrusive<zeek::AddrVal>(key.dst);
        auto call_id_val = zeek::val_mgr->Count(key.call_id);
        auto protocol_val = zeek::val_mgr->Count(ppp.protocol);
        if ( new_protocol && ppp_protocol )
            zeek::event_mgr.Enqueue(ppp_protocol, src_val, dst_val, call_id_val, protocol_val);
        if ( ! ppp.authentication.empty() && authentication )
            zeek::event_mgr.Enqueue(authentication, src_val, dst_val, call_id_val,
                                    zeek::make_intrusive<zeek::StringVal>(ppp.authentication));
        if ( new_identity && identity )
            zeek::event_mgr.Enqueue(identity, src_val, dst_val, call_id_val, protocol_val,
                                    zeek::make_intrusive<zeek::StringVal>(*ppp.identity));
        if ( ppp.mppe_negotiated && mppe_negotiated )
            zeek::event_mgr.Enqueue(mppe_negotiated, src_val, dst_val, call_id_val);
    }
};

// Made at the first PPTP GRE packet and never destroyed: it holds Zeek values, which a static
// object's destructor would release after Zeek has shut down.
State& state() {
    static State* state = new State;
    return *state;
}

// The IP header around the packet being analyzed, which Spicy's cookie leads to.
const zeek::IP_Hdr* current_ip_header() {
    auto* cookie = static_cast<zeek::spicy::rt::Cookie*>(hilti::rt::context::cookie());
    if ( ! cookie || ! cookie->packet || ! cookie->packet->packet )
        return nullptr;
    return cookie->packet->packet->ip_hdr.get();
}

} // namespace

// Analyzes the GRE packet `data` (the IP payload) and hands it on to Zeek's GRE analyzer,
// registered under `next_analyzer`.
void analyze(const hilti::rt::stream::View& data, const hilti::rt::integer::safe<uint32_t>& next_analyzer) {
    zeek::spicy::rt::forward_packet(next_analyzer);
    const auto* ip = current_ip_header();
    if ( ! ip )
        return;

    // The packet's octets in one piece, as a packet analyzer's input always is.
    auto block = data.firstBlock();
    std::string joined;
    const uint8_t* octets = nullptr;
    size_t size = data.size();
    if ( block && block->size >= size )
        octets = block->start;
    else {
        joined = data.data().str();
        octets = reinterpret_cast<const uint8_t*>(joined.data());
    }
    // What a frame has beyond the octets its IP header announces is link-layer padding.
    size_t ip_payload_length = ip->PayloadLen();
    if ( ip_payload_length > 0 && ip_payload_length < size )
        size = ip_payload_length;

    Header header = read_header(octets, size);
    for ( const auto& anomaly : header.anomalies )
        zeek::spicy::rt::weird(std::string("pptp_gre_") + anomaly.name, anomaly.detail);
    if ( ! (header.enhanced && header.ppp_carried) )
        return;

    auto& analyzer = state();
    double now = zeek::run_state::network_time;
    if ( analyzer.last_gre_activity )
        analyzer.last_gre_activity->SetVal(zeek::make_intrusive<zeek::TimeVal>(now));
    if ( ! header.sound )
        return;
    PppFrame ppp = read_ppp(octets + header.length, header.payload_size);
    analyzer.count({ip->SrcAddr(), ip->DstAddr(), header.call_id}, header, ppp, now);
}

} // namespace pptp_gre
