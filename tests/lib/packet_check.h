// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Independent packet parser and checker for test output (and for the builder's own tests).
//
// parse() turns bytes (from the Ethernet header, or from the IP header with {.eth = false})
// into plain structs, one per layer, and verifies what a receiver would:
//   - IPv4: version, ihl >= 5, header within the buffer, header checksum;
//   - IPv6: version, extension header chain (bounded, lengths in range, HBH only first,
//     option TLVs well-formed);
//   - lengths: tot_len / payload_len against the bytes present (Ethernet padding up to the
//     minimum frame is allowed; other trailing bytes are a problem unless allow_trailer), an
//     encapsulated header's length against its outer header's payload, UDP length;
//   - TCP: doff >= 5 and within the segment, option lengths (and MSS/WS/SACK/TS sizes);
//   - checksums: TCP, UDP (0 allowed over IPv4 only), ICMP, ICMPv6, with v4/v6 pseudo-headers
//     (routing-header final destination for IPv6); not verified on fragments;
//   - ICMP errors: the quoted datagram is parsed too (it may be cut short: its lengths may
//     exceed the quote, its L4 checksum is then not verified); its problems are reported
//     with a "quoted: " prefix.
// problems is a list of human-readable findings; empty means valid.
//
// Nothing here shares code with packet.h: the checksum is a different formulation (byte-wise
// even/odd sums, verified by summing over the checksum field) so the two check each other.
#ifndef XI_TEST_PACKET_CHECK_H
#define XI_TEST_PACKET_CHECK_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace xi::test
{

struct ParseOptions {
    bool eth = true;            // buffer starts with an Ethernet header (false: with IP)
    bool allow_trailer = false; // bytes after the IP datagram beyond Ethernet padding are fine
};

// One header or data region, in wire order. kind names match xi::test::to_string(LayerKind)
// ("eth", "vlan", "ipv4", "ipv6", "ipv6_ext", "tcp", "udp", "icmp4", "icmp6", "payload",
// "trailer"); name is unique, e.g. "vlan[1]", "ipv6[0].frag", "quoted.tcp".
struct Region {
    std::string name;
    std::string kind;
    size_t off = 0;
    size_t len = 0;     // clipped to the bytes present
    unsigned depth = 0; // 1 = inside an ICMP error's quoted datagram
};

struct EthInfo {
    std::array<uint8_t, 6> dst{}, src{};
    uint16_t type = 0; // the type field at offset 12 (a TPID when tagged)
};

struct VlanInfo {
    uint16_t tpid = 0; // 0x8100, 0x88a8, ...
    uint16_t vid = 0;
    uint8_t pcp = 0;
    bool dei = false;
    uint16_t next_type = 0; // the type field after the TCI
};

struct Ipv6ExtInfo {
    uint8_t type = 0; // the next-header value that named this header
    uint8_t next = 0;
    size_t off = 0;
    size_t len = 0;
    std::vector<uint8_t> data; // after next header and length
    // fragment (44)
    uint16_t frag_offset = 0; // 8-byte units
    bool more = false;
    uint32_t frag_id = 0;
    // routing (43)
    uint8_t routing_type = 0, segments_left = 0;
    std::vector<std::string> addrs;
    // AH (51)
    uint32_t spi = 0, ah_seq = 0;
};

struct IpInfo {
    uint8_t version = 0;
    size_t off = 0;
    size_t hdr_len = 0; // IPv4: ihl * 4; IPv6: 40 + extension headers
    std::string src, dst;
    std::array<uint8_t, 16> src_raw{}, dst_raw{}; // IPv4 uses the first 4 bytes
    uint8_t tos = 0;                              // IPv4 TOS / IPv6 traffic class
    uint8_t ttl = 0;                              // IPv4 TTL / IPv6 hop limit
    uint8_t proto = 0;                            // IPv4 protocol / IPv6 fixed header's next header
    uint8_t l4_proto = 0;                         // after the extension headers
    size_t datagram_len = 0;                      // as the header says (tot_len, 40 + payload_len)
    bool truncated = false;                       // quoted datagram longer than the quote
    // IPv4
    uint8_t ihl = 0;
    uint16_t tot_len = 0, id = 0, checksum = 0;
    bool rf = false, df = false, mf = false;
    uint16_t frag_offset = 0; // 8-byte units
    std::vector<uint8_t> options;
    // IPv6
    uint32_t flow_label = 0;
    uint16_t payload_len = 0;
    std::vector<Ipv6ExtInfo> exts;
    std::string final_dst; // pseudo-header destination (routing header aware)

    uint8_t dscp() const { return tos >> 2; }
    uint8_t ecn() const { return tos & 3; }
    // Fragment state, IPv4 header or IPv6 fragment header.
    bool later_fragment() const; // offset != 0: no L4 header here
    bool more_fragments() const;
    const Ipv6ExtInfo *ext(uint8_t type) const; // first extension header of that type
};

struct TcpOptionInfo {
    uint8_t kind = 0;
    std::vector<uint8_t> data; // without kind and length
};

struct TcpInfo {
    uint16_t sport = 0, dport = 0;
    uint32_t seq = 0, ack = 0;
    uint8_t doff = 0, flags = 0;
    uint16_t window = 0, checksum = 0, urg_ptr = 0;
    std::vector<TcpOptionInfo> options; // wire order, NOP and EOL included (parsing stops at EOL)
    std::optional<uint16_t> mss;
    std::optional<uint8_t> wscale;
    bool sack_perm = false;
    std::vector<std::pair<uint32_t, uint32_t>> sack;
    std::optional<std::pair<uint32_t, uint32_t>> ts; // value, echo reply

    bool fin() const { return flags & 0x01; }
    bool syn() const { return flags & 0x02; }
    bool rst() const { return flags & 0x04; }
    bool psh() const { return flags & 0x08; }
    bool ack_flag() const { return flags & 0x10; }
    bool urg() const { return flags & 0x20; }
};

struct UdpInfo {
    uint16_t sport = 0, dport = 0, len = 0, checksum = 0;
};

struct IcmpInfo {
    uint8_t version = 4; // 4 = ICMP, 6 = ICMPv6
    uint8_t type = 0, code = 0;
    uint16_t checksum = 0;
    uint32_t rest = 0; // bytes 4..7

    uint16_t id() const { return static_cast<uint16_t>(rest >> 16); }
    uint16_t seq() const { return static_cast<uint16_t>(rest); }
    // Fragmentation Needed: next-hop MTU (low 16 bits); Packet Too Big: 32-bit MTU.
    uint32_t mtu() const { return version == 4 ? rest & 0xffff : rest; }
    bool is_error() const; // carries a quoted datagram
};

struct ParsedPacket {
    static constexpr size_t none = static_cast<size_t>(-1);

    bool has_eth = false;
    EthInfo eth;
    std::vector<VlanInfo> vlans; // outermost first
    uint16_t ethertype = 0;      // after the tags
    size_t l2_len = 0;
    std::vector<IpInfo> ips; // outermost first (encapsulation)
    uint8_t l4_proto = 0;
    size_t l4_off = none;
    size_t l4_len = 0; // header length (TCP: doff * 4)
    std::optional<TcpInfo> tcp;
    std::optional<UdpInfo> udp;
    std::optional<IcmpInfo> icmp;
    bool l4_truncated = false;         // quoted datagram cut inside its L4 header
    bool l4_checksum_verified = false; // false on fragments, cut quotes, UDP checksum 0
    size_t payload_off = none;
    size_t payload_len = 0;
    size_t ip_end = none;   // end of the outermost IP datagram (clamped); not IP: buffer end
    size_t trailer_len = 0; // bytes after it
    bool trailer_is_padding = false;
    std::shared_ptr<const ParsedPacket> quoted; // an ICMP error's datagram
    std::vector<Region> regions;
    std::vector<std::string> problems;

    bool ok() const { return problems.empty(); }
    const IpInfo *outer_ip() const { return ips.empty() ? nullptr : &ips.front(); }
    const IpInfo *inner_ip() const { return ips.empty() ? nullptr : &ips.back(); }
    const Region *region(std::string_view name) const;
};

ParsedPacket parse(std::span<const uint8_t> pkt, ParseOptions opts = {});
// parse(pkt, opts).problems
std::vector<std::string> check(std::span<const uint8_t> pkt, ParseOptions opts = {});

// One's complement sum of `data` folded to 16 bits (not complemented): byte-wise, even and
// odd bytes summed apart (RFC 1071 section 2). A correct checksum makes the sum over the
// covered bytes (pseudo-header included) 0xffff.
uint16_t ones_sum(std::span<const uint8_t> data);

// "eth 02:00:00:00:00:01 > 02:00:00:00:00:02 | vlan 100 | ipv4 198.51.100.7 > 203.0.113.10
// ttl 17 | tcp 40000 > 443 [S] mss 1460 | payload 100"
std::string summary(const ParsedPacket &p);
// "0000  45 00 00 3c ...  E..<" lines.
std::string hexdump(std::span<const uint8_t> pkt);
// Which header field holds byte `off`: "ipv4[0] +8 (ttl)", "quoted.tcp +2 (dport)".
std::string describe_offset(std::span<const uint8_t> pkt, size_t off, ParseOptions opts = {});
// Empty if equal; otherwise both lengths, the first differing offset and its field, both
// summaries, and a side-by-side dump with ^^ under every differing byte. For test messages:
//   EXPECT_TRUE(out == want) << hexdiff(want, out);
std::string hexdiff(std::span<const uint8_t> expected, std::span<const uint8_t> actual,
                    ParseOptions opts = {});

} // namespace xi::test

#endif // XI_TEST_PACKET_CHECK_H
