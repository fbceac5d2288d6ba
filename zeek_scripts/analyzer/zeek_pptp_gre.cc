// What Spicy cannot do on its own for the PPTP GRE analyzer (zeek_pptp_gre.spicy): read the
// addresses and length of the IP header around the packet being parsed, and keep a Zeek record
// per flow that scripts hold and read (PPTP::GreFlow), announced to them once when it begins.

#include <hilti/rt/libhilti.h>

#include <zeek/Event.h>
#include <zeek/EventRegistry.h>
#include <zeek/ID.h>
#include <zeek/IP.h>
#include <zeek/IPAddr.h>
#include <zeek/Val.h>
#include <zeek/iosource/Packet.h>
#include <zeek/spicy/cookie.h>
#include <zeek/spicy/runtime-support.h>

namespace zeek_pptp_gre {

namespace {

using Count = hilti::rt::integer::safe<uint64_t>;

const zeek::IP_Hdr& current_ip_header() {
    auto* cookie = static_cast<zeek::spicy::rt::Cookie*>(hilti::rt::context::cookie());
    if ( ! cookie || ! cookie->packet || ! cookie->packet->packet || ! cookie->packet->packet->ip_hdr )
        throw hilti::rt::RuntimeError("PPTP GRE analyzer: no IP header for the current packet");
    return *cookie->packet->packet->ip_hdr;
}

hilti::rt::Address to_spicy(const zeek::IPAddr& address) {
    if ( address.GetFamily() == IPv4 ) {
        in_addr v4;
        address.CopyIPv4(&v4);
        return hilti::rt::Address(v4);
    }
    in6_addr v6;
    address.CopyIPv6(&v6);
    return hilti::rt::Address(v6);
}

zeek::IPAddr to_zeek(const hilti::rt::Address& address) {
    auto raw = address.asInAddr();
    if ( auto* v4 = std::get_if<in_addr>(&raw) )
        return zeek::IPAddr(*v4);
    return zeek::IPAddr(std::get<in6_addr>(raw));
}

// PPTP::GreFlow and the offsets of its fields, looked up once.
struct FlowType {
    zeek::RecordTypePtr type = zeek::id::find_type<zeek::RecordType>("PPTP::GreFlow");
    int src = type->FieldOffset("src");
    int dst = type->FieldOffset("dst");
    int call_id = type->FieldOffset("call_id");
    int first = type->FieldOffset("first");
    int last = type->FieldOffset("last");
    int packets = type->FieldOffset("packets");
    int bytes = type->FieldOffset("bytes");
    int lost = type->FieldOffset("lost");
    int duplicate = type->FieldOffset("duplicate");
    int out_of_order = type->FieldOffset("out_of_order");
    int closed = type->FieldOffset("closed");
    zeek::EventHandlerPtr begin = zeek::event_registry->Lookup("PPTP::gre_flow_begin");
};

const FlowType& flow_type() {
    static const FlowType flow;
    return flow;
}

} // namespace

hilti::rt::Address packet_source() { return to_spicy(current_ip_header().SrcAddr()); }

hilti::rt::Address packet_destination() { return to_spicy(current_ip_header().DstAddr()); }

hilti::rt::integer::safe<uint64_t> packet_payload_length() { return current_ip_header().PayloadLen(); }

zeek::spicy::rt::ValRecordPtr begin_flow(const hilti::rt::Address& src, const hilti::rt::Address& dst,
                                         const Count& call_id, const hilti::rt::Time& first) {
    const auto& t = flow_type();
    auto flow = zeek::make_intrusive<zeek::RecordVal>(t.type);
    flow->Assign(t.src, zeek::make_intrusive<zeek::AddrVal>(to_zeek(src)));
    flow->Assign(t.dst, zeek::make_intrusive<zeek::AddrVal>(to_zeek(dst)));
    flow->Assign(t.call_id, static_cast<uint64_t>(call_id));
    flow->AssignTime(t.first, first.seconds());
    flow->AssignTime(t.last, first.seconds());
    flow->Assign(t.packets, uint64_t{0});
    flow->Assign(t.bytes, uint64_t{0});
    flow->Assign(t.lost, uint64_t{0});
    flow->Assign(t.duplicate, uint64_t{0});
    flow->Assign(t.out_of_order, uint64_t{0});
    flow->Assign(t.closed, false);
    if ( t.begin )
        zeek::event_mgr.Enqueue(t.begin, flow);
    return flow;
}

void update_flow(const zeek::spicy::rt::ValRecordPtr& flow, const Count& packets, const Count& bytes,
                 const Count& lost, const Count& duplicate, const Count& out_of_order,
                 const hilti::rt::Time& last) {
    const auto& t = flow_type();
    flow->Assign(t.packets, static_cast<uint64_t>(packets));
    flow->Assign(t.bytes, static_cast<uint64_t>(bytes));
    flow->Assign(t.lost, static_cast<uint64_t>(lost));
    flow->Assign(t.duplicate, static_cast<uint64_t>(duplicate));
    flow->Assign(t.out_of_order, static_cast<uint64_t>(out_of_order));
    flow->AssignTime(t.last, last.seconds());
}

hilti::rt::Bool flow_closed(const zeek::spicy::rt::ValRecordPtr& flow) {
    return flow->GetFieldAs<zeek::BoolVal>(flow_type().closed);
}

void note_activity(const hilti::rt::Time& t) {
    static const auto activity = zeek::id::find("PPTP::last_gre_activity");
    if ( activity )
        activity->SetVal(zeek::make_intrusive<zeek::TimeVal>(t.seconds()));
}

} // namespace zeek_pptp_gre
