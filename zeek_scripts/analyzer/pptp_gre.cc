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
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
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
    std::optional<uint32_t> acknowledgment_number;
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
    if ( flags & FLAG_ACKNOWLEDGMENT )
        header.acknowledgment_number = read32(key + ((flags & FLAG_SEQUENCE) ? 8 : 4));
    if ( payload_length != header.payload_size )
        header.anomalies.push_back({"payload_length_mismatch",
                                    std::to_string(payload_length) + " of " + std::to_string(header.payload_size)});
    if ( ! header.sequence_number && header.payload_size > 0 )
        header.anomalies.push_back({"ack_only_with_payload", ""});
    header.sound = header.ppp_carried && header.anomalies.empty();
    return header;
}

// LCP, CCP and CHAP codes the analysis follows (RFC 1661 §5, RFC 1994 §4).
constexpr uint8_t CONFIGURE_REQUEST = 1;
constexpr uint8_t CONFIGURE_ACK = 2;
constexpr uint8_t CHAP_CHALLENGE = 1;
constexpr uint8_t CHAP_RESPONSE = 2;

// What the start of a PPP frame, and a frame read whole, say.
struct PppFrame {
    // The frame has a protocol field: its number, and where its information field starts.
    bool has_protocol = false;
    uint16_t protocol = 0;
    size_t info = 0;
    // An LCP, CCP or CHAP packet with its four-octet header: code and identifier.
    bool negotiation = false;
    uint8_t code = 0;
    uint8_t identifier = 0;
    // The octets after that header, up to its length field (or the frame's end): the options
    // of a Configure-Request or -Ack.
    const uint8_t* options = nullptr;
    size_t options_size = 0;
    // The authentication protocol an LCP Configure-Ack's options name, or "".
    std::string authentication;
    // A CCP Configure-Ack's options name MPPE.
    bool mppe_offered = false;
    // A PAP, CHAP or EAP packet names the user who authenticates: the name.
    std::optional<std::string> identity;
};

// The authentication protocol in LCP options (RFC 1661 §6.2, RFC 1994, RFC 2433, RFC 2759,
// RFC 3748): "PAP", "CHAP-MD5", "MS-CHAPv1", "MS-CHAPv2", "EAP", another protocol in hex, or
// "" if none.
std::string lcp_authentication(const uint8_t* options, size_t size) {
    for ( size_t at = 0; at + 2 <= size; ) {
        uint8_t kind = options[at];
        size_t option_size = options[at + 1];
        if ( option_size < 2 || at + option_size > size )
            return "";
        if ( kind == 3 && option_size >= 4 ) {
            uint16_t protocol = read16(options + at + 2);
            if ( protocol == PPP_PAP )
                return "PAP";
            if ( protocol == PPP_EAP )
                return "EAP";
            if ( protocol == PPP_CHAP && option_size >= 5 ) {
                switch ( options[at + 4] ) {
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

// Whether CCP options offer MPPE (option 18, RFC 3078 §2).
bool ccp_mppe(const uint8_t* options, size_t size) {
    for ( size_t at = 0; at + 2 <= size; ) {
        if ( options[at] == 18 )
            return true;
        size_t option_size = options[at + 1];
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
// what they offer or name. Whether a peer accepts it is the flow's to judge.
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
        case PPP_CHAP: {
            if ( ppp.info + 4 > size )
                break;
            ppp.negotiation = true;
            ppp.code = frame[ppp.info];
            ppp.identifier = frame[ppp.info + 1];
            size_t length = std::clamp<size_t>(read16(frame + ppp.info + 2), 4, size - ppp.info);
            ppp.options = frame + ppp.info + 4;
            ppp.options_size = length - 4;
            if ( ppp.code == CONFIGURE_ACK && ppp.protocol == PPP_LCP )
                ppp.authentication = lcp_authentication(ppp.options, ppp.options_size);
            else if ( ppp.code == CONFIGURE_ACK && ppp.protocol == PPP_CCP )
                ppp.mppe_offered = ccp_mppe(ppp.options, ppp.options_size);
            if ( ppp.protocol == PPP_CHAP )
                ppp.identity = peer_identity(ppp.protocol, frame, size, ppp.info);
            break;
        }
        case PPP_PAP:
        case PPP_EAP: ppp.identity = peer_identity(ppp.protocol, frame, size, ppp.info); break;
        default: break;
    }
    return ppp;
}

// What one side of a call said that its peer may answer: its last few LCP and CCP
// Configure-Requests (identifier and options) and CHAP Challenges (identifier). An answer
// counts only if it echoes one of them (RFC 1661 §5.2, RFC 1994 §4.1), so a stray or forged
// frame settles nothing.
class Negotiation {
public:
    void remember(const PppFrame& ppp) {
        if ( ppp.protocol == PPP_CHAP ) {
            keep(challenges_, next_challenge_, ppp.identifier);
            return;
        }
        Request request{ppp.identifier, ppp.options_size, digest(ppp)};
        if ( ppp.protocol == PPP_LCP )
            keep(lcp_, next_lcp_, std::move(request));
        else
            keep(ccp_, next_ccp_, std::move(request));
    }

    // Whether the Configure-Ack `ack` echoes one of these Configure-Requests.
    bool requested(const PppFrame& ack) const {
        uint64_t options = digest(ack);
        for ( const auto& request : ack.protocol == PPP_LCP ? lcp_ : ccp_ )
            if ( request.identifier == ack.identifier && request.options_size == ack.options_size &&
                 request.options == options )
                return true;
        return false;
    }

    // Whether the CHAP Response `response` answers one of these Challenges.
    bool challenged(const PppFrame& response) const {
        return std::find(challenges_.begin(), challenges_.end(), response.identifier) != challenges_.end();
    }

private:
    // Requests and Challenges remembered per protocol.
    static constexpr size_t REMEMBERED = 8;

    // A Request's options are kept as their size and a 64-bit FNV-1a digest: a few octets
    // whatever a sender puts in them, and an Ack that echoes other options with the same
    // digest is as hard to make as one that echoes the Request.
    struct Request {
        uint8_t identifier;
        size_t options_size;
        uint64_t options;
    };

    static uint64_t digest(const PppFrame& ppp) {
        uint64_t hash = 0xcbf29ce484222325;
        for ( size_t at = 0; at < ppp.options_size; ++at )
            hash = (hash ^ ppp.options[at]) * 0x100000001b3;
        return hash;
    }

    template<typename T>
    static void keep(std::vector<T>& ring, size_t& next, T item) {
        if ( ring.size() < REMEMBERED )
            ring.push_back(std::move(item));
        else
            ring[next] = std::move(item);
        next = (next + 1) % REMEMBERED;
    }

    std::vector<Request> lcp_;
    std::vector<Request> ccp_;
    std::vector<uint8_t> challenges_;
    size_t next_lcp_ = 0;
    size_t next_ccp_ = 0;
    size_t next_challenge_ = 0;
};

// Sequence analysis of one flow (issue 24's rules, the harness's SequenceTracker), in RFC 1982
// serial arithmetic. A number ahead of the highest seen by d shows d - 1 numbers skipped; one
// already seen is a duplicate; an unseen one behind the highest is out of order (behind the first
// seen, the numbers start there). One packet alone is not trusted (RFC 3550 A.1): a number is
// confirmed in a run of RUN numbers seen, each within CONFIRM of the next (or of two, one of them
// the episode's first: the flow starts there), and the losses are the numbers never seen between
// the lowest and the highest confirmed ones, so a lone number beyond the flow (an altered copy),
// or two that landed close together, adds none. A number more than `window` from the highest
// confirmed (or after RESTART_IDLE of silence, any that does not advance) is a stray: counted out
// of window, it moves nothing, unless a later packet continues from it (at most RESTART_STEP
// ahead) before the flow goes on (a number new to it within the window) and within
// RESTART_PROBATION packets (so a repeat or another stray between them does not hide it), in which
// case the flow restarted there (a reconnect that reuses the Call ID): a new episode begins, whose
// losses add to the earlier ones'.
//
// The numbers seen are a ring of bits, one per number modulo a power of two above twice the
// window, exact for the numbers up to that far behind the highest, which is as far back as a
// number in the window can be; bits are cleared as the highest advances over them. The ring is
// made at the first number out of line: until then the numbers seen are those from the first
// to the highest (all confirmed once there are two), and a flow without loss or reordering
// (most) never needs one.
class Sequence {
public:
    // What a packet's number was.
    enum Verdict : uint8_t { IN_WINDOW, OUT_OF_WINDOW, RESTART };

    explicit Sequence(uint32_t window) : window_(std::clamp<uint32_t>(window, 1, HALF / 4)) {
        ring_bits_ = 64;
        while ( ring_bits_ <= 2 * static_cast<uint64_t>(window_) + 2 * REACH + 2 )
            ring_bits_ *= 2;
    }

    Verdict observe(uint32_t number, double time) {
        ++packets_;
        bool idle = timed_ && time - last_time_ >= RESTART_IDLE;
        timed_ = true;
        last_time_ = time;
        if ( ! started_ ) {
            started_ = true;
            begin_episode(number);
            return IN_WINDOW;
        }
        // The newest stray still on probation that this number continues from.
        for ( size_t i = strays_.size(); i-- > 0; ) {
            const Stray stray = strays_[i];
            if ( packets_ - stray.packet <= RESTART_PROBATION &&
                 static_cast<uint32_t>(number - stray.number) - 1 < RESTART_STEP ) {
                strays_.clear();
                earlier_lost_ = lost();
                --out_of_window;
                ++restarts;
                begin_episode(stray.number);
                analyze(number);
                return RESTART;
            }
        }
        uint32_t reference = confirmed_ ? highest_confirmed_ : highest_;
        uint32_t ahead = number - reference;
        uint32_t behind = reference - number;
        if ( (ahead > window_ && behind > window_) || (idle && ahead - 1 >= window_) ) {
            ++out_of_window;
            if ( strays_.size() >= RESTART_PROBATION )
                strays_.erase(strays_.begin());
            strays_.push_back({number, packets_});
            return OUT_OF_WINDOW;
        }
        uint64_t duplicates_before = duplicate;
        analyze(number);
        if ( duplicate == duplicates_before )
            strays_.clear(); // the flow went on: no stray before this is a restart
        return IN_WINDOW;
    }

    uint64_t lost() const {
        if ( ! confirmed_ )
            return earlier_lost_;
        uint64_t span = static_cast<uint64_t>(static_cast<uint32_t>(highest_confirmed_ - first_confirmed_)) + 1;
        return earlier_lost_ + (span > inside_ ? span - inside_ : 0);
    }

    // Where a flow stood: the number its window is measured from (the highest confirmed, else
    // the highest), whether it was confirmed, and its last packet's time.
    struct Resume {
        uint32_t reference;
        bool confirmed;
        double last_time;
    };

    std::optional<Resume> resume_point() const {
        if ( ! started_ || ! timed_ )
            return std::nullopt;
        return Resume{confirmed_ ? highest_confirmed_ : highest_, confirmed_, last_time_};
    }

    // Goes on from where a flow stood (`at`), its figures afresh: a number that does not
    // advance after the silence is a stray, and one that continues from it a restart.
    void resume(const Resume& at) {
        started_ = timed_ = true;
        last_time_ = at.last_time;
        begin_episode(at.reference);
        if ( at.confirmed ) {
            confirmed_ = true;
            first_confirmed_ = highest_confirmed_ = at.reference;
            inside_ = 1;
        }
    }

    // Whether the current episode has a confirmed number.
    bool confirmed() const { return confirmed_; }
    // The current episode's first (lowest) and highest numbers seen.
    uint32_t first() const { return first_; }
    uint32_t highest() const { return highest_; }
    uint32_t window() const { return window_; }

    uint64_t duplicate = 0;
    uint64_t out_of_order = 0;
    uint64_t out_of_window = 0;
    uint64_t restarts = 0;

private:
    static constexpr uint32_t HALF = 0x80000000;
    // A number is confirmed in a run of RUN numbers seen, each at most CONFIRM from the next
    // (two altered copies can land close together, three rarely do), or of two where one is
    // the episode's first. A new number's run gains members at most REACH from it: any
    // farther already ran with two others and was confirmed then.
    static constexpr uint32_t CONFIRM = 2;
    static constexpr uint32_t RUN = 3;
    static constexpr uint32_t REACH = (RUN - 1) * CONFIRM;
    // How far ahead of a stray a number may be for the flow to restart there, and for how
    // many packets after it.
    static constexpr uint32_t RESTART_STEP = 16;
    static constexpr uint64_t RESTART_PROBATION = 8;
    // Seconds without a packet after which a number that does not advance is a stray.
    static constexpr double RESTART_IDLE = 60;

    void begin_episode(uint32_t number) {
        first_ = highest_ = start_ = number;
        in_line_ = true;
        confirmed_ = false;
        inside_ = 0;
    }

    // A number in the window (or, after a restart, one of the next few).
    void analyze(uint32_t number) {
        uint32_t ahead = number - highest_;
        bool advances = ahead > 0 && ahead < HALF;
        if ( in_line_ ) {
            if ( ahead == 1 ) {
                // Still in line: every number from the first to this one seen, all confirmed.
                highest_ = number;
                confirm_line();
                return;
            }
            if ( ! advances && seen(number) ) {
                ++duplicate;
                return;
            }
            leave_line();
        }
        else if ( ! advances && seen(number) ) {
            ++duplicate;
            return;
        }
        bool counted = confirmed_ && static_cast<uint32_t>(number - first_confirmed_) <=
                                         static_cast<uint32_t>(highest_confirmed_ - first_confirmed_);
        if ( advances ) {
            // Bits ahead of the highest are stale: those the new highest passes over are cleared.
            for ( uint32_t passed = highest_ + 1; passed != number; ++passed )
                clear(passed);
            highest_ = number;
        }
        mark(number);
        if ( counted )
            ++inside_;
        auto [below, members_below] = run_edge(number, false);
        auto [above, members_above] = run_edge(number, true);
        uint32_t needed = below == start_ || above == start_ ? RUN - 1 : RUN;
        // Losses count from the episode's first number on: a run behind it (a copy that landed
        // there, or the end of what came before a capture begun mid-flow) moves no edge below it.
        uint32_t behind_start = start_ - above;
        if ( 1 + members_below + members_above >= needed && (behind_start == 0 || behind_start >= HALF) ) {
            uint32_t under = start_ - below;
            confirm(under > 0 && under < HALF ? start_ : below);
            confirm(above);
        }
        if ( advances )
            return;
        ++out_of_order;
        if ( static_cast<uint32_t>(first_ - number) < HALF )
            first_ = number; // the numbers start here
    }

    // The farthest number of the run through `number` (seen) one way, and how many numbers it
    // has that way; the walk stops past REACH.
    std::pair<uint32_t, uint32_t> run_edge(uint32_t number, bool up) const {
        uint32_t edge = number;
        uint32_t members = 0;
        while ( (up ? edge - number : number - edge) <= REACH ) {
            bool found = false;
            for ( uint32_t distance = 1; distance <= CONFIRM && ! found; ++distance ) {
                uint32_t near = up ? edge + distance : edge - distance;
                if ( seen(near) ) {
                    edge = near;
                    found = true;
                }
            }
            if ( ! found )
                break;
            ++members;
        }
        return {edge, members};
    }

    // Moves the confirmed range out to `number`, counting the numbers seen that it takes in.
    void confirm(uint32_t number) {
        if ( ! confirmed_ ) {
            confirmed_ = true;
            first_confirmed_ = highest_confirmed_ = number;
            inside_ = 1;
            return;
        }
        uint32_t ahead = number - highest_confirmed_;
        if ( ahead > 0 && ahead < HALF ) {
            for ( uint32_t taken = highest_confirmed_ + 1; taken != number + 1; ++taken )
                inside_ += seen(taken);
            highest_confirmed_ = number;
        }
        uint32_t behind = first_confirmed_ - number;
        if ( behind > 0 && behind < HALF ) {
            for ( uint32_t taken = number; taken != first_confirmed_; ++taken )
                inside_ += seen(taken);
            first_confirmed_ = number;
        }
    }

    // In line, from the first to the highest: confirmed from the second number on.
    void confirm_line() {
        confirmed_ = true;
        first_confirmed_ = first_;
        highest_confirmed_ = highest_;
        inside_ = static_cast<uint64_t>(static_cast<uint32_t>(highest_ - first_)) + 1;
    }

    // Whether a number was seen in this episode.
    bool seen(uint32_t number) const {
        uint32_t behind = highest_ - number;
        if ( behind >= HALF )
            return false; // ahead of the highest
        if ( in_line_ )
            return behind <= static_cast<uint32_t>(highest_ - first_);
        if ( behind >= ring_bits_ )
            return false; // farther back than any number in the window
        uint64_t bit = number & (ring_bits_ - 1);
        return (ring_[bit / 64] >> (bit % 64)) & 1;
    }

    void mark(uint32_t number) {
        uint64_t bit = number & (ring_bits_ - 1);
        ring_[bit / 64] |= uint64_t{1} << (bit % 64);
    }

    void clear(uint32_t number) {
        uint64_t bit = number & (ring_bits_ - 1);
        ring_[bit / 64] &= ~(uint64_t{1} << (bit % 64));
    }

    // Puts the numbers seen while in line in the ring, as far back as it reaches.
    void leave_line() {
        in_line_ = false;
        ring_.assign(ring_bits_ / 64, 0);
        uint64_t run = static_cast<uint64_t>(static_cast<uint32_t>(highest_ - first_)) + 1;
        for ( uint64_t back = 0; back < std::min(run, ring_bits_); ++back )
            mark(highest_ - static_cast<uint32_t>(back));
    }

    uint32_t window_;
    uint64_t ring_bits_;
    bool started_ = false;
    // The last packet's time, once there is one.
    bool timed_ = false;
    double last_time_ = 0;
    // Sequenced packets so far, and the strays on probation (a later number may continue one).
    struct Stray {
        uint32_t number;
        uint64_t packet;
    };
    uint64_t packets_ = 0;
    std::vector<Stray> strays_;
    // This episode: its lowest and highest numbers seen in serial order, whether they are all
    // those in between (no ring needed), and its confirmed range with the numbers seen in it.
    uint32_t first_ = 0;
    uint32_t highest_ = 0;
    uint32_t start_ = 0; // the first number seen
    bool in_line_ = true;
    bool confirmed_ = false;
    uint32_t first_confirmed_ = 0;
    uint32_t highest_confirmed_ = 0;
    uint64_t inside_ = 0;
    // Losses of the episodes before this one.
    uint64_t earlier_lost_ = 0;
    // Bit (number modulo ring_bits_) set: seen in this episode; empty while in line.
    std::vector<uint64_t> ring_;
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
    // Paired with the opposite direction of its tunnel (PPTP::gre_flows_paired).
    bool paired = false;
    // pptp_gre_out_of_window was reported for the flow.
    bool stray_reported = false;
    // PPP protocols already reported for the flow, and authentication protocols whose user
    // name was: a handful each.
    std::vector<uint16_t> protocols;
    std::vector<uint16_t> identities;
    // What this side asked of its peer, from its first Configure-Request or Challenge on.
    std::unique_ptr<Negotiation> negotiation;
};

// Adds `value` to `seen` unless it is there; whether it was new.
bool first_of(std::vector<uint16_t>& seen, uint16_t value) {
    for ( auto known : seen )
        if ( known == value )
            return false;
    seen.push_back(value);
    return true;
}

// What a packet's PPP frame settles or names, once its peer's frames have been looked at.
struct Findings {
    bool new_protocol = false;
    bool new_identity = false;
    std::string authentication;
    bool mppe_negotiated = false;

    bool any() const { return new_protocol || new_identity || ! authentication.empty() || mppe_negotiated; }
};

// Packets between sweeps of the flows for closed and idle ones, at least.
constexpr uint64_t SWEEP_AFTER = 1024;

// Flows the other way between two addresses that a packet looks at, at most: a call's opposite
// direction (for its PPP answers, or to pair GRE without control) is among the first few.
constexpr size_t OPPOSITE_FLOWS = 64;

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
    int out_of_window = flow_type->FieldOffset("out_of_window");
    int restarts = flow_type->FieldOffset("restarts");
    int peer_call_id = flow_type->FieldOffset("peer_call_id");
    int opposite_dst = flow_type->FieldOffset("opposite_dst");
    int claimed = flow_type->FieldOffset("claimed");
    int closed = flow_type->FieldOffset("closed");

    zeek::detail::IDPtr sequence_window = zeek::id::find("PPTP::sequence_window");
    zeek::detail::IDPtr call_state_timeout = zeek::id::find("PPTP::call_state_timeout");
    zeek::detail::IDPtr last_gre_activity = zeek::id::find("PPTP::last_gre_activity");

    zeek::EventHandlerPtr flow_begin = zeek::event_registry->Lookup("PPTP::gre_flow_begin");
    zeek::EventHandlerPtr flows_paired = zeek::event_registry->Lookup("PPTP::gre_flows_paired");
    zeek::EventHandlerPtr ppp_protocol = zeek::event_registry->Lookup("PPTP::gre_ppp_protocol");
    zeek::EventHandlerPtr authentication = zeek::event_registry->Lookup("PPTP::gre_authentication");
    zeek::EventHandlerPtr identity = zeek::event_registry->Lookup("PPTP::gre_identity");
    zeek::EventHandlerPtr mppe_negotiated = zeek::event_registry->Lookup("PPTP::gre_mppe_negotiated");

    std::unordered_map<FlowKey, Flow, FlowKeyHash> flows;
    // The Call IDs of the flows from one address to another, by [source, destination, 0]:
    // where a flow's opposite direction is found.
    std::unordered_map<FlowKey, std::vector<uint16_t>, FlowKeyHash> call_ids;
    // Flows no call claimed, with a confirmed number, that scripts gave up (quiet past
    // PPTP::unclaimed_gre_timeout), for PPTP::call_state_timeout after their last packet:
    // where their sequence stood, so that the same GRE coming again (a replayed tunnel, a
    // reconnect reusing its Call IDs) is judged as the truth judges one flow: a restart, or a
    // flow going on.
    std::unordered_map<FlowKey, Sequence::Resume, FlowKeyHash> given_up;
    // Packets since flows were last swept.
    uint64_t since_sweep = 0;

    bool closed_by_scripts(const Flow& flow) const { return flow.record->GetFieldAs<zeek::BoolVal>(closed); }

    bool claimed_by_call(const Flow& flow) const { return flow.record->GetFieldAs<zeek::BoolVal>(claimed); }

    // Where a flow no call claimed stood, if it has a confirmed number: what its GRE, given
    // up and coming again, goes on from. Lone packets (altered copies) leave none.
    std::optional<Sequence::Resume> resumable(const Flow& flow) const {
        auto point = flow.sequence.resume_point();
        if ( ! point || ! point->confirmed || claimed_by_call(flow) )
            return std::nullopt;
        return point;
    }

    // Drops flows that scripts closed or that saw no packet for PPTP::call_state_timeout. Run
    // once the packets since the last sweep (at least SWEEP_AFTER) are more than half the
    // flows: each packet pays for at most two flows' checks, and flows are swept even while
    // every packet begins one.
    void sweep(double now) {
        since_sweep = 0;
        double timeout = call_state_timeout->GetVal()->AsInterval();
        std::unordered_set<FlowKey, FlowKeyHash> emptied;
        for ( auto flow = flows.begin(); flow != flows.end(); ) {
            bool quiet = flow->second.last + timeout <= now;
            if ( quiet || closed_by_scripts(flow->second) ) {
                if ( auto point = resumable(flow->second); point && ! quiet )
                    given_up.insert_or_assign(flow->first, *point);
                emptied.insert({flow->first.src, flow->first.dst, 0});
                flow = flows.erase(flow);
            }
            else
                ++flow;
        }
        for ( auto point = given_up.begin(); point != given_up.end(); )
            point = point->second.last_time + timeout <= now ? given_up.erase(point) : std::next(point);
        // Each address pair's Call IDs once, in one pass, however many of its flows went.
        for ( const auto& pair : emptied ) {
            auto found = call_ids.find(pair);
            if ( found == call_ids.end() )
                continue;
            auto& ids = found->second;
            ids.erase(std::remove_if(ids.begin(), ids.end(),
                                     [&](uint16_t id) { return flows.count({pair.src, pair.dst, id}) == 0; }),
                      ids.end());
            if ( ids.empty() )
                call_ids.erase(found);
        }
    }

    // Calls `visit(key, flow)` for each open flow from `key`'s destination to `to`, in the
    // order they began, until it returns true; for the first OPPOSITE_FLOWS only, so that
    // thousands of Call IDs between two addresses cannot make every packet slow.
    template<typename Visit>
    void for_each_opposite(const FlowKey& key, const zeek::IPAddr& to, Visit visit) {
        auto found = call_ids.find({key.dst, to, 0});
        if ( found == call_ids.end() )
            return;
        size_t looked = 0;
        for ( auto id : found->second ) {
            if ( ++looked > OPPOSITE_FLOWS )
                return;
            FlowKey other{key.dst, to, id};
            if ( other == key )
                continue;
            auto flow = flows.find(other);
            if ( flow != flows.end() && ! closed_by_scripts(flow->second) && visit(other, flow->second) )
                return;
        }
    }

    // The flow of a sound packet's key, begun anew if scripts closed the last one: announced
    // to scripts with its record.
    Flow& flow_of(const FlowKey& key, double now) {
        auto found = flows.find(key);
        if ( found != flows.end() && ! closed_by_scripts(found->second) )
            return found->second;
        // GRE no call claimed that scripts gave up, coming again: one flow, figures afresh.
        std::optional<Sequence::Resume> resume;
        if ( found != flows.end() )
            resume = resumable(found->second);
        else if ( auto point = given_up.find(key); point != given_up.end() ) {
            resume = point->second;
            given_up.erase(point);
        }
        auto record = zeek::make_intrusive<zeek::RecordVal>(flow_type);
        record->Assign(src, zeek::make_intrusive<zeek::AddrVal>(key.src));
        record->Assign(dst, zeek::make_intrusive<zeek::AddrVal>(key.dst));
        record->Assign(call_id, static_cast<uint64_t>(key.call_id));
        record->AssignTime(first, now);
        record->AssignTime(last, now);
        for ( auto counter : {packets, bytes, lost, duplicate, out_of_order, out_of_window, restarts} )
            record->Assign(counter, uint64_t{0});
        record->Assign(closed, false);
        record->Assign(claimed, false);
        if ( flow_begin )
            zeek::event_mgr.Enqueue(flow_begin, record);
        if ( found == flows.end() )
            call_ids[{key.src, key.dst, 0}].push_back(key.call_id);
        Flow flow{record, 0, 0, now, Sequence(sequence_window->GetVal()->AsCount())};
        if ( resume )
            flow.sequence.resume(*resume);
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
        // A repeated or stray sequence number is likely a damaged copy: its protocol is not
        // news (nor IP in clear).
        bool fresh = ! header.sequence_number || follow_sequence(key, flow, *header.sequence_number, now);
        if ( header.acknowledgment_number && ! flow.paired )
            pair(key, flow, *header.acknowledgment_number);
        Findings findings;
        findings.new_protocol = ppp.has_protocol && fresh && first_of(flow.protocols, ppp.protocol);
        if ( ppp.negotiation )
            negotiate(key, flow, ppp, findings);
        else if ( ppp.identity )
            findings.new_identity = first_of(flow.identities, ppp.protocol);
        if ( findings.any() )
            announce(key, ppp, findings);
        if ( ++since_sweep >= SWEEP_AFTER && 2 * since_sweep > flows.size() )
            sweep(now);
    }

    // Analyzes a packet's sequence number: whether it is new to the flow (neither a repeat nor
    // a stray).
    bool follow_sequence(const FlowKey& key, Flow& flow, uint32_t number, double now) {
        auto& sequence = flow.sequence;
        uint64_t duplicates_before = sequence.duplicate;
        auto verdict = sequence.observe(number, now);
        auto& record = *flow.record;
        record.Assign(lost, sequence.lost());
        record.Assign(duplicate, sequence.duplicate);
        record.Assign(out_of_order, sequence.out_of_order);
        bool fresh = verdict != Sequence::OUT_OF_WINDOW && sequence.duplicate == duplicates_before;
        if ( verdict == Sequence::IN_WINDOW )
            return fresh;
        record.Assign(out_of_window, sequence.out_of_window);
        record.Assign(restarts, sequence.restarts);
        auto detail = "Call ID " + std::to_string(key.call_id) + ": sequence number " + std::to_string(number);
        if ( verdict == Sequence::RESTART )
            zeek::spicy::rt::weird("pptp_gre_restart", detail);
        else if ( ! flow.stray_reported ) {
            flow.stray_reported = true;
            zeek::spicy::rt::weird("pptp_gre_out_of_window", detail);
        }
        return fresh;
    }

    // Pairs a flow no call claims and not paired yet with the opposite direction of its tunnel,
    // if the packet's acknowledgment is of a number that direction sent (within the window
    // behind its highest, and no farther back than its first), and that one is neither claimed
    // nor paired. Both must have confirmed numbers: two lone packets (altered copies whose
    // Call IDs changed) are no tunnel. Scripts say which flows calls claim once they have
    // heard of them: at a flow's first packet, the flow itself counts as unclaimed.
    void pair(const FlowKey& key, Flow& flow, uint32_t acknowledged) {
        if ( claimed_by_call(flow) || ! flow.sequence.confirmed() )
            return;
        for_each_opposite(key, key.src, [&](const FlowKey& other_key, Flow& other) {
            const auto& sequence = other.sequence;
            if ( other.paired || ! sequence.confirmed() || claimed_by_call(other) )
                return false;
            uint32_t behind = sequence.highest() - acknowledged;
            if ( behind > std::min(sequence.window(), sequence.highest() - sequence.first()) )
                return false;
            flow.paired = other.paired = true;
            flow.record->Assign(peer_call_id, static_cast<uint64_t>(other_key.call_id));
            other.record->Assign(peer_call_id, static_cast<uint64_t>(key.call_id));
            if ( flows_paired )
                zeek::event_mgr.Enqueue(flows_paired, flow.record, other.record);
            return true;
        });
    }

    // Follows the negotiation as the peers do: a side's Configure-Requests and Challenges are
    // remembered; a Configure-Ack settles something only if it echoes one of the opposite
    // direction's Requests, a CHAP Response names the user only if it answers one of its
    // Challenges.
    void negotiate(const FlowKey& key, Flow& flow, const PppFrame& ppp, Findings& findings) {
        bool is_chap = ppp.protocol == PPP_CHAP;
        if ( ppp.code == (is_chap ? CHAP_CHALLENGE : CONFIGURE_REQUEST) ) {
            if ( ! flow.negotiation )
                flow.negotiation = std::make_unique<Negotiation>();
            flow.negotiation->remember(ppp);
            return;
        }
        if ( ppp.code != (is_chap ? CHAP_RESPONSE : CONFIGURE_ACK) )
            return;
        // The opposite direction goes back to the source, unless scripts know better (GRE of
        // a call from an unexpected address).
        const auto& to =
            flow.record->HasField(opposite_dst) ? flow.record->GetFieldAs<zeek::AddrVal>(opposite_dst) : key.src;
        bool answered = false;
        for_each_opposite(key, to, [&](const FlowKey&, Flow& other) {
            const auto* asked = other.negotiation.get();
            answered = asked && (is_chap ? asked->challenged(ppp) : asked->requested(ppp));
            return answered;
        });
        if ( is_chap ) {
            if ( answered && ppp.identity )
                findings.new_identity = first_of(flow.identities, ppp.protocol);
            return;
        }
        if ( ! answered ) {
            auto detail = "Call ID " + std::to_string(key.call_id) + (ppp.protocol == PPP_LCP ? ": LCP" : ": CCP") +
                          " identifier " + std::to_string(ppp.identifier);
            zeek::spicy::rt::weird("pptp_gre_ppp_unmatched_ack", detail);
            return;
        }
        findings.authentication = ppp.authentication;
        findings.mppe_negotiated = ppp.mppe_offered;
    }

    // The events of what a packet's PPP frame shows: a protocol or user name new in its flow,
    // an authentication protocol or MPPE settled.
    void announce(const FlowKey& key, const PppFrame& ppp, const Findings& findings) const {
        auto src_val = zeek::make_intrusive<zeek::AddrVal>(key.src);
        auto dst_val = zeek::make_intrusive<zeek::AddrVal>(key.dst);
        auto call_id_val = zeek::val_mgr->Count(key.call_id);
        auto protocol_val = zeek::val_mgr->Count(ppp.protocol);
        if ( findings.new_protocol && ppp_protocol )
            zeek::event_mgr.Enqueue(ppp_protocol, src_val, dst_val, call_id_val, protocol_val);
        if ( ! findings.authentication.empty() && authentication )
            zeek::event_mgr.Enqueue(authentication, src_val, dst_val, call_id_val,
                                    zeek::make_intrusive<zeek::StringVal>(findings.authentication));
        if ( findings.new_identity && identity )
            zeek::event_mgr.Enqueue(identity, src_val, dst_val, call_id_val, protocol_val,
                                    zeek::make_intrusive<zeek::StringVal>(*ppp.identity));
        if ( findings.mppe_negotiated && mppe_negotiated )
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
