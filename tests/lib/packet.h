// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Packet builder for datapath tests (BPF_PROG_TEST_RUN, differential tests, benchmarks).
//
// One readable expression per packet, layers in wire order:
//
//   auto p = Packet()
//                .eth(mac_a, mac_b)
//                .vlan(100)
//                .ipv4("198.51.100.7", "203.0.113.10")
//                .ttl(17)
//                .tcp(40000, 443)
//                .syn()
//                .mss(1460)
//                .payload(100)
//                .build();
//
// Rules:
// - No eth() call means no L2 at all: the packet starts at the IP header (wg0 is an L3 device).
// - Each ipv4()/ipv6() after the first adds an encapsulated header (IPIP, IP6IP6, 6in4, 4in6);
//   the outer header's protocol/next header is set to 4 or 41 automatically.
// - IP modifiers (ttl, tos, df, ip_options, hop_by_hop, ...) apply to the most recently added IP
//   header; L4 modifiers (syn, mss, ...) to the L4 header. A modifier without its layer throws
//   std::logic_error, so a typo in a table row fails loudly.
// - Lengths, next-header chains and checksums are correct unless explicitly overridden; the
//   overrides exist to craft malformed packets.
// - Values are given in host order; the builder writes them in network order.
// - Bad addresses (inet_pton / MAC parse failures) throw std::invalid_argument.
//
// The builder is a value type: copy a base packet and vary one field per table row.
#ifndef XI_TEST_PACKET_H
#define XI_TEST_PACKET_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace xi::test
{

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;

inline constexpr size_t npos = static_cast<size_t>(-1);
inline constexpr size_t kEthMinFrame = 60; // ETH_ZLEN: minimum frame without FCS

// "02:00:00:00:00:01" (also accepts '-' separators); throws std::invalid_argument.
Mac mac(std::string_view text);
// inet_pton wrappers; throw std::invalid_argument.
std::array<uint8_t, 4> ipv4_addr(std::string_view text);
std::array<uint8_t, 16> ipv6_addr(std::string_view text);

// RFC 1071 Internet checksum of `data` (16-bit big-endian words, odd byte padded), starting
// from the partial sum `initial`. Returns the value to store in the checksum field.
uint16_t inet_checksum(std::span<const uint8_t> data, uint32_t initial = 0);

// Cut a packet at `len` bytes (no-op when len >= size).
Bytes truncated(Bytes pkt, size_t len);

enum class LayerKind {
    eth,
    vlan,     // one 4-byte tag (TCI + encapsulated type), after the Ethernet header
    ipv4,     // fixed header + options
    ipv6,     // fixed 40-byte header
    ipv6_ext, // one extension header
    tcp,      // header + options
    udp,
    icmp4, // 8-byte header (type, code, checksum, rest of header)
    icmp6,
    payload, // L4 payload, or the quoted datagram of an ICMP error (see depth)
    trailer, // bytes after the outermost IP datagram: Ethernet padding or trailer()
};
const char *to_string(LayerKind kind);

struct Layer {
    LayerKind kind;
    size_t off;
    size_t len;
    unsigned depth; // 0 = the packet itself; 1 = inside an ICMP error's quoted datagram, ...
};

// Where each layer starts. Describes the packet without the final truncate() (so truncation
// loops can iterate over the offsets of the whole packet); the quoted datagram of an ICMP
// error is described as it is in the packet, i.e. clipped to the inner() length.
struct Layout {
    std::vector<Layer> layers;   // wire order
    size_t size = 0;             // bytes before truncate()
    size_t l2_len = 0;           // Ethernet + VLAN tags; 0 without L2
    size_t l3_off = npos;        // outermost IP header (== l2_len when there is IP)
    std::vector<size_t> ip_offs; // every depth-0 IP header, outer first
    size_t inner_l3_off = npos;  // innermost depth-0 IP header (== l3_off without encapsulation)
    size_t l4_off = npos;        // depth-0 L4 header (after every IP and extension header)
    size_t l4_len = 0;           // its header length (TCP: with options)
    size_t payload_off = npos;   // L4 payload, or IP payload when there is no L4
    size_t ip_end = npos;        // end of the outermost IP datagram; trailer/padding starts here
    size_t quote_off = npos;     // ICMP error: start of the quoted datagram
    size_t quote_l4_off = npos;  // ICMP error: quoted L4 header, if it starts inside the quote

    // Every layer start and end, sorted and unique, 0 and size included: the interesting cut
    // points for "truncated at every header boundary" loops.
    std::vector<size_t> boundaries() const;
    // nth layer of this kind at this depth, or nullptr.
    const Layer *find(LayerKind kind, unsigned depth = 0, size_t nth = 0) const;
};

class Packet
{
public:
    Packet() = default;

    // ---- L2 ---------------------------------------------------------------------------------
    // Ethernet header. Default MACs: src 02:00:00:00:00:01, dst 02:00:00:00:00:02.
    Packet &eth();
    Packet &eth(const Mac &src, const Mac &dst);
    Packet &eth(std::string_view src, std::string_view dst);
    // Override the type field after the last tag (default: from the first IP header, or 0).
    Packet &ethertype(uint16_t type);
    // VLAN tags, outermost first, any order and count: vlan() = 802.1Q (0x8100), svlan() =
    // 802.1ad (0x88a8), vlan_tag() any TPID.
    Packet &vlan(uint16_t vid, uint8_t pcp = 0, bool dei = false);
    Packet &svlan(uint16_t vid, uint8_t pcp = 0, bool dei = false);
    Packet &vlan_tag(uint16_t tpid, uint16_t vid, uint8_t pcp = 0, bool dei = false);

    // ---- L3 (each call after the first encapsulates) ----------------------------------------
    Packet &ipv4(std::string_view src, std::string_view dst);
    Packet &ipv6(std::string_view src, std::string_view dst);

    // Both families (current IP header).
    Packet &ttl(uint8_t ttl); // IPv6: hop limit
    Packet &hop_limit(uint8_t hops) { return ttl(hops); }
    Packet &tos(uint8_t tos); // whole byte; IPv6: traffic class
    Packet &traffic_class(uint8_t tc) { return tos(tc); }
    Packet &dscp(uint8_t dscp); // upper 6 bits
    Packet &ecn(uint8_t ecn);   // lower 2 bits
    // Protocol of what follows (IPv4 protocol; IPv6: next header of the last extension header,
    // or of the fixed header without extensions). Default: from the next layer, else 255 (v4) /
    // 59 "no next header" (v6).
    Packet &ip_proto(uint8_t proto);
    Packet &ip_version(uint8_t version); // override the version nibble

    // IPv4 only.
    Packet &ip_id(uint16_t id);
    Packet &df(bool on = true);
    Packet &mf(bool on = true);
    Packet &evil(bool on = true);                 // the reserved flag (RFC 3514)
    Packet &frag_offset(uint16_t units8);         // fragment offset in 8-byte units, as on the wire
    Packet &ip_options(std::vector<uint8_t> raw); // zero-padded (EOL) to a multiple of 4
    Packet &ihl(uint8_t words);                   // override; header bytes are written unchanged
    Packet &tot_len(uint16_t len);                // override
    Packet &ip_checksum(uint16_t csum);           // override
    Packet &corrupt_ip_checksum();                // correct checksum ^ 1

    // IPv6 only.
    Packet &flow_label(uint32_t label);
    Packet &payload_len(uint16_t len); // override
    Packet &next_header(uint8_t nh);   // override the fixed header's next header field only
    // Extension headers, in call order, after the fixed header; next headers chain themselves.
    // hop_by_hop/dest_opts take option TLVs, padded with Pad1/PadN to a multiple of 8.
    Packet &hop_by_hop(std::vector<uint8_t> options = {});
    Packet &dest_opts(std::vector<uint8_t> options = {});
    // Routing header: 4 type-specific bytes (zero; for type 4 (SRH) last entry = n-1) and
    // the addresses. With segments_left > 0 the L4 pseudo-header uses the final destination
    // (types 0/2: last address; type 4: first segment), as RFC 8200 8.1 says.
    Packet &routing(uint8_t type, uint8_t segments_left, const std::vector<std::string> &addrs);
    Packet &frag6(uint16_t offset_units8, bool more, uint32_t id);
    Packet &ah(uint32_t spi, uint32_t seq, std::vector<uint8_t> icv = Bytes(12, 0));
    // Any extension header: `body` is everything after next header and length, zero-padded to
    // a multiple of 8; the length byte is set in 8-octet units.
    Packet &ext6(uint8_t type, std::vector<uint8_t> body);

    // ---- L4 ---------------------------------------------------------------------------------
    Packet &tcp(uint16_t sport, uint16_t dport); // seq 1, ack 0, no flags, window 65535
    Packet &seq(uint32_t seq);
    Packet &ack();             // ACK flag
    Packet &ack(uint32_t ack); // ACK flag and acknowledgment number
    Packet &syn();
    Packet &fin();
    Packet &rst();
    Packet &psh();
    Packet &urg(uint16_t urg_ptr = 0);
    Packet &ece();
    Packet &cwr();
    Packet &tcp_flags(uint8_t flags); // exact flags byte (replaces the flags set so far)
    Packet &window(uint16_t window);
    Packet &doff(uint8_t words); // override the data offset
    // TCP options, in call order; the list is padded with zeros (EOL) to a multiple of 4.
    Packet &mss(uint16_t mss);
    Packet &wscale(uint8_t shift);
    Packet &sack_perm();
    Packet &sack(const std::vector<std::pair<uint32_t, uint32_t>> &blocks);
    Packet &ts(uint32_t val, uint32_t ecr);
    Packet &nop();
    Packet &eol();
    Packet &tcp_option(uint8_t kind, std::vector<uint8_t> data); // kind, len = 2 + size, data
    Packet &tcp_options_raw(std::vector<uint8_t> raw);           // appended as-is

    Packet &udp(uint16_t sport, uint16_t dport);
    Packet &udp_len(uint16_t len); // override

    // ICMPv4: the current IP header must be IPv4. `rest` = bytes 4..7 of the header.
    Packet &icmp4(uint8_t type, uint8_t code, uint32_t rest = 0);
    Packet &icmp4_echo_request(uint16_t id, uint16_t seq);
    Packet &icmp4_echo_reply(uint16_t id, uint16_t seq);
    Packet &icmp4_unreach(uint8_t code);
    Packet &icmp4_frag_needed(uint16_t mtu); // type 3 code 4, next-hop MTU
    Packet &icmp4_time_exceeded(uint8_t code = 0);
    // ICMPv6: the current IP header must be IPv6. NDP and others via icmp6(type, code, rest)
    // plus payload().
    Packet &icmp6(uint8_t type, uint8_t code, uint32_t rest = 0);
    Packet &icmp6_echo_request(uint16_t id, uint16_t seq);
    Packet &icmp6_echo_reply(uint16_t id, uint16_t seq);
    Packet &icmp6_unreach(uint8_t code);
    Packet &icmp6_packet_too_big(uint32_t mtu);
    Packet &icmp6_time_exceeded(uint8_t code = 0);
    // The datagram quoted by an ICMP error, built by the same builder (no L2 allowed) with its
    // own correct lengths and checksums, then cut to at most `max_len` bytes (e.g. 28 = IPv4
    // header + 8 bytes of L4; fewer for "short inner header" cases). Replaces the payload.
    Packet &inner(const Packet &quoted, size_t max_len = npos);

    // Checksum overrides for the L4 header (TCP, UDP, ICMP, ICMPv6). l4_checksum(0) on UDP
    // over IPv4 means "no checksum". A computed UDP checksum of 0 is sent as 0xffff.
    Packet &l4_checksum(uint16_t csum);
    Packet &corrupt_l4_checksum(); // correct checksum ^ 1

    // ---- payload, trailer, truncation -------------------------------------------------------
    Packet &payload(size_t len); // bytes 0x00, 0x01, ... 0xff, 0x00, ... (offsets show in dumps)
    Packet &payload(const std::vector<uint8_t> &data);
    Packet &payload(std::initializer_list<uint8_t> data);
    Packet &payload(std::string_view text);
    // Pad the frame with `fill` up to 60 bytes (Ethernet minimum). Padding is not part of the IP
    // datagram: use a non-zero fill to catch code that sums or forwards it as payload.
    Packet &pad_to_min(uint8_t fill = 0);
    Packet &pad_to(size_t frame_len, uint8_t fill = 0);
    Packet &trailer(std::vector<uint8_t> bytes); // raw bytes after the IP datagram
    Packet &truncate(size_t len);                // cut the final packet (after checksums)

    // ---- output -----------------------------------------------------------------------------
    Bytes build() const;
    Layout layout() const;
    bool has_l2() const { return eth_.has_value(); }

private:
    struct Eth {
        Mac src, dst;
        std::optional<uint16_t> type;
    };
    struct Vlan {
        uint16_t tpid, tci;
    };
    struct Ext6 {
        uint8_t type;
        Bytes body; // after nh + len, already padded
        bool ah;
    };
    struct Ip4 {
        std::array<uint8_t, 4> src{}, dst{};
        uint8_t tos = 0, ttl = 64;
        uint16_t id = 0, frag_off = 0;
        bool df = false, mf = false, evil = false;
        Bytes options;
        std::optional<uint8_t> ihl, version, proto;
        std::optional<uint16_t> tot_len, check;
        bool corrupt = false;
    };
    struct Ip6 {
        std::array<uint8_t, 16> src{}, dst{};
        uint8_t tclass = 0, hops = 64;
        uint32_t flow = 0;
        std::vector<Ext6> exts;
        std::optional<uint8_t> version, proto, next_header;
        std::optional<uint16_t> payload_len;
    };
    enum class L4 { none, tcp, udp, icmp4, icmp6 };

    Ip4 &cur4(const char *what);
    Ip6 &cur6(const char *what);
    void need_l4(L4 kind, const char *what) const;
    void set_l4(L4 kind, const char *what);
    Packet &set_icmp(L4 kind, uint8_t type, uint8_t code, uint32_t rest);
    Packet &add_ext(uint8_t type, Bytes body, bool ah);
    Packet &add_tcp_opt(std::initializer_list<uint8_t> bytes);
    Bytes assemble(Layout *layout) const;

    std::optional<Eth> eth_;
    std::vector<Vlan> vlans_;
    std::vector<std::variant<Ip4, Ip6>> ips_;
    L4 l4_ = L4::none;
    uint16_t sport_ = 0, dport_ = 0;
    uint32_t seq_ = 1, ack_ = 0;
    uint8_t flags_ = 0;
    uint16_t window_ = 65535, urg_ptr_ = 0;
    Bytes tcp_opts_;
    std::optional<uint8_t> doff_;
    std::optional<uint16_t> udp_len_;
    uint8_t icmp_type_ = 0, icmp_code_ = 0;
    uint32_t icmp_rest_ = 0;
    std::optional<uint16_t> l4_check_;
    bool l4_corrupt_ = false;
    Bytes payload_;
    std::optional<Layout> quote_; // layout of the quoted datagram (relative to its start)
    size_t pad_to_ = 0;
    uint8_t pad_fill_ = 0;
    Bytes trailer_;
    size_t truncate_ = npos;
};

} // namespace xi::test

#endif // XI_TEST_PACKET_H
