// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The checker's text output, for test failure messages: summary() (one line per packet),
// hexdump(), describe_offset() (which header field holds a byte) and hexdiff() (where two
// packets differ, side by side). Everything here reads parse()'s result.
#include "packet_check.h"
#include "packet_parser.h"

#include <algorithm>

#include <linux/if_ether.h>

namespace xi::test
{

using check_detail::ext_name;
using check_detail::strf;

namespace
{

std::string tcp_flags_text(uint8_t f)
{
    static const char letters[] = "FSRPAUEC";
    std::string s;
    for (int i = 0; i < 8; i++) {
        if (f & (1 << i))
            s += letters[i];
    }
    return s.empty() ? "none" : s;
}

std::string mac_text(const std::array<uint8_t, 6> &m)
{
    return strf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

// Field name of byte `rel` inside a region of `kind`.
std::string field_name(const std::string &kind, size_t rel)
{
    struct Field {
        size_t end;
        const char *name;
    };
    static const Field eth[] = {{6, "dst"}, {12, "src"}, {14, "type"}};
    static const Field vlan[] = {{2, "tci"}, {4, "type"}};
    static const Field ipv4[] = {{1, "version/ihl"}, {2, "tos"},       {4, "tot_len"},
                                 {6, "id"},          {8, "frag_off"},  {9, "ttl"},
                                 {10, "protocol"},   {12, "checksum"}, {16, "saddr"},
                                 {20, "daddr"},      {60, "options"}};
    static const Field ipv6[] = {{4, "version/tclass/flow"}, {6, "payload_len"}, {7, "nexthdr"},
                                 {8, "hop_limit"},           {24, "saddr"},      {40, "daddr"}};
    static const Field ext[] = {{1, "nexthdr"}, {2, "hdrlen"}, {2048, "data"}};
    static const Field tcp[] = {{2, "sport"},    {4, "dport"},   {8, "seq"},     {12, "ack_seq"},
                                {13, "doff"},    {14, "flags"},  {16, "window"}, {18, "checksum"},
                                {20, "urg_ptr"}, {60, "options"}};
    static const Field udp[] = {{2, "sport"}, {4, "dport"}, {6, "len"}, {8, "checksum"}};
    static const Field icmp[] = {{1, "type"}, {2, "code"}, {4, "checksum"}, {8, "rest"}};
    std::span<const Field> table;
    if (kind == "eth")
        table = eth;
    else if (kind == "vlan")
        table = vlan;
    else if (kind == "ipv4")
        table = ipv4;
    else if (kind == "ipv6")
        table = ipv6;
    else if (kind == "ipv6_ext")
        table = ext;
    else if (kind == "tcp")
        table = tcp;
    else if (kind == "udp")
        table = udp;
    else if (kind == "icmp4" || kind == "icmp6")
        table = icmp;
    for (const Field &f : table) {
        if (rel < f.end)
            return f.name;
    }
    return "";
}

} // namespace

std::string summary(const ParsedPacket &p)
{
    std::string s;
    auto sep = [&s] {
        if (!s.empty())
            s += " | ";
    };
    if (p.has_eth) {
        s += "eth " + mac_text(p.eth.src) + " > " + mac_text(p.eth.dst);
        for (const VlanInfo &v : p.vlans) {
            sep();
            s += strf("%s %u", v.tpid == ETH_P_8021Q ? "vlan" : "svlan", v.vid);
            if (v.pcp || v.dei)
                s += strf(" pcp %u%s", v.pcp, v.dei ? " dei" : "");
        }
        if (p.ethertype != ETH_P_IP && p.ethertype != ETH_P_IPV6) {
            sep();
            s += strf("type 0x%04x", p.ethertype);
        }
    }
    for (const IpInfo &ip : p.ips) {
        sep();
        s += strf("ipv%u %s > %s ttl %u", ip.version, ip.src.c_str(), ip.dst.c_str(), ip.ttl);
        if (ip.tos)
            s += strf(" tos 0x%02x", ip.tos);
        if (ip.version == 4 && (ip.mf || ip.frag_offset))
            s += strf(" frag %u%s", ip.frag_offset * 8u, ip.mf ? "+" : "");
        if (ip.version == 4 && !ip.options.empty())
            s += strf(" opts %zu", ip.options.size());
        for (const Ipv6ExtInfo &x : ip.exts)
            s += std::string(" ") + ext_name(x.type);
    }
    if (p.tcp) {
        sep();
        if (p.l4_truncated)
            s += strf("tcp %u > %u (cut) seq %u", p.tcp->sport, p.tcp->dport, p.tcp->seq);
        else
            s += strf("tcp %u > %u [%s] seq %u", p.tcp->sport, p.tcp->dport,
                      tcp_flags_text(p.tcp->flags).c_str(), p.tcp->seq);
        if (p.tcp->ack_flag())
            s += strf(" ack %u", p.tcp->ack);
        if (p.tcp->mss)
            s += strf(" mss %u", *p.tcp->mss);
        if (p.tcp->wscale)
            s += strf(" ws %u", *p.tcp->wscale);
    } else if (p.udp) {
        sep();
        s += strf("udp %u > %u", p.udp->sport, p.udp->dport);
    } else if (p.icmp) {
        sep();
        s += strf("icmp%s type %u code %u", p.icmp->version == 6 ? "6" : "", p.icmp->type,
                  p.icmp->code);
    }
    if (p.quoted) {
        sep();
        s += "quoted [" + summary(*p.quoted) + "]";
    } else if (p.payload_len) {
        sep();
        s += strf("payload %zu", p.payload_len);
    }
    if (p.trailer_len) {
        sep();
        s += strf("%s %zu", p.trailer_is_padding ? "padding" : "trailer", p.trailer_len);
    }
    if (!p.problems.empty())
        s += strf(" (%zu problems)", p.problems.size());
    return s;
}

std::string hexdump(std::span<const uint8_t> pkt)
{
    std::string s;
    for (size_t row = 0; row < pkt.size(); row += 16) {
        s += strf("%04zx ", row);
        std::string ascii;
        for (size_t i = row; i < row + 16; i++) {
            if (i < pkt.size()) {
                s += strf(" %02x", pkt[i]);
                ascii += pkt[i] >= 0x20 && pkt[i] < 0x7f ? static_cast<char>(pkt[i]) : '.';
            } else {
                s += "   ";
            }
        }
        s += "  " + ascii + "\n";
    }
    return s;
}

std::string describe_offset(std::span<const uint8_t> pkt, size_t off, ParseOptions opts)
{
    ParsedPacket p = parse(pkt, opts);
    const Region *best = nullptr;
    for (const Region &r : p.regions) {
        if (off >= r.off && off < r.off + r.len && (!best || r.depth >= best->depth))
            best = &r;
    }
    if (!best)
        return off >= pkt.size() ? "past the end" : "outside any header";
    std::string f = field_name(best->kind, off - best->off);
    return strf("%s +%zu", best->name.c_str(), off - best->off) + (f.empty() ? "" : " (" + f + ")");
}

std::string hexdiff(std::span<const uint8_t> expected, std::span<const uint8_t> actual,
                    ParseOptions opts)
{
    if (std::equal(expected.begin(), expected.end(), actual.begin(), actual.end()))
        return "";
    size_t n = std::min(expected.size(), actual.size());
    size_t first =
        std::mismatch(expected.begin(), expected.begin() + static_cast<long>(n), actual.begin())
            .first -
        expected.begin();
    std::string s = strf("expected %zu bytes, actual %zu bytes; first difference at offset %zu",
                         expected.size(), actual.size(), first);
    if (first < n)
        s += strf(" (0x%02x vs 0x%02x)", expected[first], actual[first]);
    s += ": " + describe_offset(first < expected.size() ? expected : actual, first, opts) + "\n";
    s += "expected: " + summary(parse(expected, opts)) + "\n";
    s += "actual:   " + summary(parse(actual, opts)) + "\n";

    auto side = [](std::span<const uint8_t> b, size_t row) {
        std::string t;
        for (size_t i = row; i < row + 16; i++)
            t += i < b.size() ? strf(" %02x", b[i]) : "   ";
        return t;
    };
    s += strf("%-6s%-48s |%s\n", "off", " expected", " actual");
    size_t rows = std::max(expected.size(), actual.size());
    for (size_t row = 0; row < rows; row += 16) {
        s += strf("%04zx  %s |%s\n", row, side(expected, row).c_str(), side(actual, row).c_str());
        std::string marks;
        bool any = false;
        for (size_t i = row; i < row + 16; i++) {
            bool in_e = i < expected.size(), in_a = i < actual.size();
            bool diff = in_e != in_a || (in_e && in_a && expected[i] != actual[i]);
            marks += diff && (in_e || in_a) ? " ^^" : "   ";
            any = any || (diff && (in_e || in_a));
        }
        if (any) {
            while (!marks.empty() && marks.back() == ' ')
                marks.pop_back();
            s += "      " + marks + std::string(48 - std::min<size_t>(48, marks.size()), ' ');
            s += " |" + marks + "\n";
        }
    }
    return s;
}

} // namespace xi::test
