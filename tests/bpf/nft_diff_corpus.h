// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The corpus of the nftables differential test (nft_differential_test.cpp): packets and
// exchanges in order, each step marked with the facts that may excuse a difference.
//   nft_diff_corpus.cpp       building blocks: the corpus, TCP exchanges, fragments, the
//                             addresses of each role in diff_config()
//   nft_diff_hand_picked.cpp  the hand-picked cases
//   nft_diff_random.cpp       the seeded random cases
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "packet.h"

namespace xi::test::nftdiff
{

// Facts the corpus builder derives from a packet or from its place in an exchange.
enum Fact : unsigned {
    kDeepExtHeaders = 1u << 0,    // more IPv6 extension headers than the datapath walks (6)
    kFragOutOfOrder = 1u << 1,    // a later fragment sent before the first one
    kFragTiny = 1u << 2,          // first fragment shorter than the TCP header (RFC 1858)
    kUntrackedReply = 1u << 3,    // answer of a protocol we do not track (not TCP/UDP/echo)
    kTcpResponderEarly = 1u << 4, // responder's segment before its SYN-ACK
    kTcpAfterReset = 1u << 5,     // segment of a connection after a RST
    kTcpFinPickup = 1u << 6,      // exchange picked up mid-stream by a FIN
    kAuthHeader = 1u << 7,        // IPv6 with an authentication header (AH) before the L4 header
};

enum class Dir { In, Out };

struct Step {
    Dir dir;
    Bytes frame;
    unsigned facts = 0;
    int datagram = -1; // fragments of one datagram share an id
};

struct Case {
    std::string name;
    std::vector<Step> steps;
};

bool is6(const std::string &a); // an IPv6 address (IPv4-mapped included)
// An IP packet of the family of its addresses, on Ethernet.
Packet ip(const std::string &src, const std::string &dst);
Dir other(Dir d);

class Corpus
{
public:
    std::vector<Case> cases;

    Case &begin(const std::string &name)
    {
        cases.push_back({name, {}});
        return cases.back();
    }
    // Adds a step to the current case; facts it can tell from the packet itself are added.
    void add(Dir d, const Packet &p, unsigned facts = 0, int datagram = -1);
    uint16_t port() { return next_port_ = next_port_ >= 60000 ? 20000 : next_port_ + 1; }
    uint16_t id() { return ++next_id_; }
    int datagram() { return ++next_datagram_; }

private:
    uint16_t next_port_ = 20000, next_id_ = 0;
    int next_datagram_ = 0;
    std::set<std::tuple<uint8_t, std::string, std::string>> seen_;
};

// A TCP connection with consistent sequence numbers; a opens towards b, a's packets go in
// direction `dir`, b's the other way. Facts follow from the exchange.
class Tcp
{
public:
    Tcp(Corpus &c, std::string a, std::string b, uint16_t bport, Dir dir)
        : c_(c), a_(std::move(a)), b_(std::move(b)), ap_(c.port()), bp_(bport), dir_(dir)
    {
    }
    Tcp &syn() { return seg(true, 0x02, 0); }
    Tcp &synack() { return seg(false, 0x12, 0); }
    Tcp &ack(bool from_a = true, size_t payload = 0) { return seg(from_a, 0x10, payload); }
    Tcp &data(bool from_a, size_t payload) { return seg(from_a, 0x18, payload); }
    Tcp &fin(bool from_a) { return seg(from_a, 0x11, 0); }
    Tcp &rst(bool from_a) { return seg(from_a, 0x14, 0); }
    // The quoted header of one of a's segments (for ICMP errors).
    Packet quote_a() const
    {
        Packet q = is6(a_) ? Packet().ipv6(a_, b_) : Packet().ipv4(a_, b_);
        return q.tcp(ap_, bp_).seq(sa_).ack(sb_);
    }
    // ... and of one of b's.
    Packet quote_b() const
    {
        Packet q = is6(b_) ? Packet().ipv6(b_, a_) : Packet().ipv4(b_, a_);
        return q.tcp(bp_, ap_).seq(sb_).ack(sa_ + 1);
    }

private:
    Tcp &seg(bool from_a, uint8_t flags, size_t payload);

    Corpus &c_;
    std::string a_, b_;
    uint16_t ap_, bp_;
    Dir dir_;
    uint32_t sa_ = 1000000, sb_ = 7000000;
    bool started_ = false, syn_sent_ = false, synack_ = false, reset_ = false, fin_pickup_ = false;
};

// One IP datagram carrying `l4` (a packet built without L2), cut into fragments of `sizes`
// bytes of IP payload (multiples of 8 except the last), sent in `order`.
void fragments(Corpus &c, Dir d, const Packet &l4, std::vector<size_t> sizes,
               std::vector<size_t> order = {}, bool hop_by_hop = false);

// Addresses by role (both families), for hand-picked and random cases: "edges", "apps", ...,
// "world", "metadata" (every form of a metadata service), "mapped" (IPv4-mapped IPv6).
struct Pool {
    std::vector<std::string> v4, v6;
};
const std::map<std::string, Pool> &pools();

void hand_picked(Corpus &c);
void random_cases(Corpus &c, uint32_t seed);

} // namespace xi::test::nftdiff
