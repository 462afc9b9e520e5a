// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Differential test of the mesh policy (issue #4): the datapath against a trusted reference, the
// same policy written as nftables rules (tests/lib/nft_reference.h), on the same corpus of
// packets sent in the same order through both.
//
// Our side: the real mesh programs (L2 entries; the L3 entries share every line after the link
// layer) run with BPF_PROG_TEST_RUN on a DatapathFixture: deterministic, in-process, with the
// verdict's reason and rule read from the counters. The connection table is the real LRU map, so
// stateful exchanges (opener, then reply) go through it in order. Ingress packets run through
// tc_mesh_ingress, egress packets through tc_mesh_egress.
// Reference side: the frames are injected into a throwaway namespace whose nf_tables ruleset
// (inet prerouting, after defragmentation and nf_conntrack) logs every decision; ingress frames
// arrive on its mesh-side veth, egress frames on its host-side veth (see nft_reference.h).
//
// The corpus: hand-picked cases for every rule shape, precedence, longest-prefix roles, world,
// metadata addresses in every form, reply-only (new, established, forged ACK/RST), UDP and ICMP
// echo exchanges, ICMP errors related and unrelated, fragments, IPv6 extension headers, both
// directions; plus seeded random packets and exchanges (XI_NFTDIFF_SEED overrides the seed).
// The whole corpus runs against two configs (the defaults and reply-only set flipped, metadata
// block off).
//
// Compared: the verdict (pass / drop) of every packet; a fragmented datagram is compared as a
// whole (the kernel reassembles before nf_tables; a datagram passes if all its fragments pass).
// A mismatch fails the test unless it is one of kIntentional below, recognised by a fact the
// corpus builder derives from the packet or its exchange, with the exact pair of verdicts
// listed there.
//
// This file: the policy, the intentional differences, running both sides and comparing. The
// corpus: nft_diff_corpus.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <linux/pkt_cls.h>
#include <map>
#include <sstream>

#include "counters.h"
#include "datapath_fixture.h"
#include "fleet_yaml.h"
#include "nft_diff_corpus.h"
#include "nft_reference.h"
#include "packet.h"
#include "packet_check.h"
#include "privileges.h"
#include "xi_reasons.h"

namespace xi::test::nftdiff
{
namespace
{

// ---- the policy -------------------------------------------------------------------------------

// Every rule shape: exact port, ranges, any port, any protocol, icmp; all four role-pair probes;
// a narrow deny inside an allow and a narrow allow inside a wide deny; an equal-size overlap;
// nested identities (apps > admin > bastion); world as a source; an identity inside a metadata
// prefix (lab inside 198.18.0.0/28).
std::string diff_config(bool flipped)
{
    std::string c = fleet_yaml_head("0x42") + kEdgeANode + kApp1DualStackNode + R"(  - name: db-1
    mesh_ipv4: 10.202.0.1
    mesh_ipv6: fd00:202::1
)" + kWeb443Vip + R"(identities:
  edges: [10.200.0.0/24, fd00:200::/64]
  apps: [10.201.0.0/24, fd00:201::/64]
  dbs: [10.202.0.0/24, fd00:202::/64]
  mon: [10.203.0.0/28, fd00:203::/64]
  admin: [10.201.0.128/25, "fd00:201::8000/113"]
  bastion: [10.201.0.192/26]
  partners: [203.0.113.0/24, "2001:db8:77::/48"]
  linklocal: [169.254.0.0/16]
  lab: [198.18.0.0/30]
rules:
  - {name: edge-apps-http, from: edges, to: apps, protocol: tcp, ports: [8080, "9000-9100"], action: allow}
  - {name: edge-apps-no-9050, from: edges, to: apps, protocol: tcp, ports: [9050], action: deny}
  - {name: edge-apps-no-8xxx, from: edges, to: apps, protocol: tcp, ports: ["8000-8999"], action: deny}
  - {name: edge-apps-8081, from: edges, to: apps, protocol: tcp, ports: [8081], action: allow}
  - {name: admin-db-ssh, from: admin, to: dbs, protocol: tcp, ports: [22], action: allow}
  - {name: dns, from: any, to: dbs, protocol: udp, ports: [53], action: allow}
  - {name: mon-scrape, from: mon, to: any, protocol: tcp, ports: ["9100-9110"], action: allow}
  - {name: mon-udp, from: mon, to: dbs, protocol: udp, ports: ["1000-1999", 2500], action: allow}
  - {name: ping, from: any, to: any, protocol: icmp, action: allow}
  - {name: world-no-ping, from: world, to: any, protocol: icmp, action: deny}
  - {name: overlap-allow, from: edges, to: mon, protocol: tcp, ports: ["100-110"], action: allow}
  - {name: overlap-deny, from: edges, to: mon, protocol: tcp, ports: ["105-115"], action: deny}
  - {name: edges-no-ssh, from: edges, to: any, protocol: tcp, ports: [22], action: deny}
  - {name: edges-dbs-tcp, from: edges, to: dbs, protocol: tcp, action: deny}
  - {name: world-web, from: world, to: edges, protocol: tcp, ports: [443], action: allow}
  - {name: partners-apps-any, from: partners, to: apps, action: allow}
  - {name: partners-apps-no-udp, from: partners, to: apps, protocol: udp, action: deny}
  - {name: any-apps-alt, from: any, to: apps, protocol: tcp, ports: [8443], action: allow}
  - {name: no-mon-9105, from: any, to: mon, protocol: tcp, ports: [9105], action: deny}
  - {name: bastion-out, from: bastion, to: any, action: allow}
  - {name: lab-tools, from: lab, to: any, protocol: tcp, ports: [7000], action: allow}
metadata_extra: [192.0.2.53, 198.18.0.0/28]
events:
  rate: 1000
  burst: 1000
)";
    if (!flipped)
        return c + "default:\n  ingress: deny\n  egress: allow\nreply_only: [apps, dbs]\n";
    return c + "default:\n  ingress: allow\n  egress: deny\nreply_only: [dbs]\n"
               "metadata_block: false\n";
}

// ---- intentional differences ------------------------------------------------------------------

// Which mismatch a difference excuses: we drop what nft passes, the other way, or either.
enum class Excuses { OursDrops, OursPasses, Either };

struct Intentional {
    Fact fact;
    Excuses excuses;
    const char *what;
    const char *reason;
};

// The fixed list (the facts: nft_diff_corpus.h). Anything else that differs fails the test.
const Intentional kIntentional[] = {
    {kDeepExtHeaders, Excuses::OursDrops, "IPv6 extension-header chain longer than the walk",
     "the datapath walks at most 6 extension headers and drops longer chains (ports could hide "
     "behind them); nf_tables follows chains of any length and applies the port rule"},
    {kFragOutOfOrder, Excuses::OursDrops, "fragments arriving later-first",
     "we decide per first fragment before reassembly and drop a later fragment whose first was "
     "not seen yet; nf_tables judges the datagram after defragmentation, in any order"},
    {kFragTiny, Excuses::OursDrops, "first fragment too short for the TCP header (RFC 1858)",
     "we drop tiny first fragments and TCP fragments at offset 8 (they can only hide or "
     "rewrite ports/flags); the kernel reassembles them and judges the whole datagram"},
    {kUntrackedReply, Excuses::OursDrops, "reply-only role answering a protocol without ports",
     "our connection table tracks TCP, UDP and ICMP echo only (issue #4); nf_conntrack also "
     "tracks other protocols by address pair, so nf_tables calls the answer established"},
    {kTcpResponderEarly, Excuses::OursDrops, "responder data before its SYN-ACK",
     "we accept the responder's segments only after it answered the SYN; nf_conntrack lets an "
     "ACK in SYN_SENT through as part of the connection (ignored, not invalid)"},
    {kTcpAfterReset, Excuses::OursDrops, "segments after a RST",
     "a RST closes our entry at once; nf_conntrack keeps it in CLOSE for 10 s and still "
     "classifies segments of the tuple as established"},
    {kTcpFinPickup, Excuses::OursPasses, "exchange picked up mid-stream by a FIN",
     "we pick up any non-SYN, non-RST segment of an allowed flow (a connection predating the "
     "attach), so the responder may answer it; nf_conntrack picks up only segments without FIN, "
     "the FIN stays untracked there and the answer is a new packet of the responder"},
    {kAuthHeader, Excuses::Either, "IPv6 port rules behind an authentication header",
     "we walk AH like the other extension headers (it authenticates, it hides nothing) and apply "
     "port rules to the TCP/UDP header behind it; nf_tables stops at AH (meta l4proto is ah), "
     "so its port rules do not match there"},
};

// ---- running both sides -----------------------------------------------------------------------

struct Ours {
    bool pass = false;
    std::string reason, rule;
};

class OurSide
{
public:
    explicit OurSide(DatapathFixture &fx) : fx_(fx)
    {
        for (const auto &n : fx.gen().rule_names)
            if (!n.empty())
                names_.push_back(n);
        snapshot(prev_, prev_rules_);
    }
    Ours run(Dir d, const Bytes &frame)
    {
        auto r = fx_.run_tc(d == Dir::In ? Prog::MeshIngress : Prog::MeshEgress, frame);
        std::map<uint32_t, uint64_t> now;
        std::vector<uint64_t> rules;
        snapshot(now, rules);
        Ours o;
        o.pass = r.retval != TC_ACT_SHOT;
        uint32_t hook = d == Dir::In ? XI_HOOK_TC_MESH_INGRESS : XI_HOOK_TC_MESH_EGRESS;
        for (const auto &[key, v] : now)
            if (v != prev_[key] && key / XI_REASON_SLOTS == hook &&
                key % XI_REASON_SLOTS != XI_R_MSS_CLAMPED) {
                const ReasonInfo *ri = reason_info(key % XI_REASON_SLOTS);
                o.reason += (o.reason.empty() ? "" : "+") + std::string(ri ? ri->label : "?");
            }
        for (size_t i = 0; i < rules.size(); i++)
            if (rules[i] != prev_rules_[i])
                o.rule = names_[i];
        prev_ = std::move(now);
        prev_rules_ = std::move(rules);
        return o;
    }

private:
    void snapshot(std::map<uint32_t, uint64_t> &reasons, std::vector<uint64_t> &rules)
    {
        int fd = fx_.map_fd("xi_stats");
        for (uint32_t hook : {uint32_t(XI_HOOK_TC_MESH_INGRESS), uint32_t(XI_HOOK_TC_MESH_EGRESS)})
            for (const auto &r : xi::reasons()) {
                uint32_t key = hook * XI_REASON_SLOTS + r.number;
                reasons[key] = percpu_sum(fd, key);
            }
        int rfd = fx_.map_fd("xi_rule_stats");
        const auto &slots = fx_.gen().rule_names;
        rules.clear();
        for (const auto &n : names_) {
            uint32_t s =
                static_cast<uint32_t>(std::find(slots.begin(), slots.end(), n) - slots.begin());
            rules.push_back(percpu_sum_n(rfd, s, 2)[0]);
        }
    }

    DatapathFixture &fx_;
    std::vector<std::string> names_;
    std::map<uint32_t, uint64_t> prev_;
    std::vector<uint64_t> prev_rules_;
};

struct Observation {
    std::string where;  // case name and step numbers
    std::string packet; // summary of the packet (first fragment for a datagram)
    Dir dir = Dir::In;
    unsigned facts = 0;
    bool ours_pass = true;
    std::string ours_why; // reasons and rules of every packet
    bool nft_pass = false;
    std::string nft_why;
};

std::string nft_why(const NftVerdict &v, const Config &cfg)
{
    if (!v.judged())
        return "not judged by the ruleset (dropped by the IP stack or held for reassembly)";
    std::string out;
    for (const auto &l : v.logs) {
        std::string p = l.prefix;
        out += out.empty() ? "" : " + ";
        out += p;
        if (p.size() > 3 && p[2] == 'r' && isdigit(static_cast<unsigned char>(p[3]))) {
            size_t i = std::stoul(p.substr(3));
            if (i < cfg.rules.size())
                out += " (rule " + cfg.rules[i].name + ")";
        }
    }
    return out;
}

const char *dir_name(Dir d)
{
    return d == Dir::In ? "ingress" : "egress";
}

class NftDifferential : public ::testing::TestWithParam<bool>
{
protected:
    void SetUp() override { XI_REQUIRE_PRIVILEGES(); }
};

TEST_P(NftDifferential, VerdictsMatchTheReference)
{
    auto t0 = std::chrono::steady_clock::now();
    const bool flipped = GetParam();
    const std::string yaml = diff_config(flipped);
    auto parsed = parse_config(yaml, "nftdiff.yaml");
    ASSERT_TRUE(parsed.errors.empty()) << parsed.errors[0].str();
    const Config &cfg = *parsed.config;

    uint32_t seed = 0x5eed2024;
    if (const char *s = getenv("XI_NFTDIFF_SEED"))
        seed = static_cast<uint32_t>(std::strtoul(s, nullptr, 0));
    seed += flipped ? 1 : 0;
    Corpus corpus;
    hand_picked(corpus);
    random_cases(corpus, seed);

    DatapathFixture fx(yaml, "app-1");
    NftReference ref(cfg);
    OurSide ours(fx);

    std::vector<Observation> obs;
    size_t packets = 0;
    for (const auto &k : corpus.cases) {
        std::map<int, size_t> datagram_obs; // datagram id -> index in obs
        for (size_t i = 0; i < k.steps.size(); i++) {
            const Step &st = k.steps[i];
            Ours o = ours.run(st.dir, st.frame);
            NftVerdict v = ref.send(st.dir == Dir::In, st.frame);
            packets++;
            ASSERT_LE(v.logs.size(), 1u) << "more than one decision for one packet: " << v.label();
            std::string why = o.reason + (o.rule.empty() ? "" : " (rule " + o.rule + ")");
            if (st.datagram >= 0 && datagram_obs.count(st.datagram)) {
                Observation &d = obs[datagram_obs[st.datagram]];
                d.where += "," + std::to_string(i);
                d.ours_pass = d.ours_pass && o.pass;
                d.ours_why += " | " + why;
                d.facts |= st.facts;
                if (v.judged()) {
                    d.nft_pass = v.accepted();
                    d.nft_why = nft_why(v, cfg);
                }
                continue;
            }
            Observation ob;
            ob.where = k.name + " #" + std::to_string(i);
            ob.packet = summary(parse(st.frame));
            ob.dir = st.dir;
            ob.facts = st.facts;
            ob.ours_pass = o.pass;
            ob.ours_why = why;
            ob.nft_pass = v.accepted();
            ob.nft_why = nft_why(v, cfg);
            if (st.datagram >= 0) {
                datagram_obs[st.datagram] = obs.size();
                ob.packet = "datagram: " + ob.packet;
            }
            obs.push_back(std::move(ob));
        }
    }

    std::map<const Intentional *, size_t> excused;
    std::vector<const Observation *> bad;
    size_t agree = 0;
    for (const auto &ob : obs) {
        if (ob.ours_pass == ob.nft_pass) {
            agree++;
            continue;
        }
        const Intentional *hit = nullptr;
        for (const auto &d : kIntentional)
            if ((ob.facts & d.fact) && (d.excuses == Excuses::Either ||
                                        (d.excuses == Excuses::OursPasses) == ob.ours_pass))
                hit = &d;
        if (hit)
            excused[hit]++;
        else
            bad.push_back(&ob);
    }

    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::ostringstream report;
    report << (flipped ? "flipped config" : "main config") << ": " << packets << " packets, "
           << obs.size() << " verdicts compared, " << agree << " agree, " << bad.size()
           << " unexplained, seed " << seed << ", " << secs << " s\n";
    for (const auto &d : kIntentional)
        report << "  intentional '" << d.what << "': " << excused[&d] << "\n";
    std::cout << report.str();

    // XI_NFTDIFF_VERBOSE=1: every difference in the failure message; =2: every verdict on stdout.
    const char *verbose = getenv("XI_NFTDIFF_VERBOSE");
    auto describe = [](const Observation &ob) {
        return "- [" + ob.where + "] " + dir_name(ob.dir) + " " + ob.packet +
               "\n    ours: " + (ob.ours_pass ? "PASS  " : "DROP  ") + ob.ours_why +
               "\n    nft:  " + (ob.nft_pass ? "PASS  " : "DROP  ") + ob.nft_why + "\n";
    };
    if (verbose && std::string(verbose) == "2")
        for (const auto &ob : obs)
            std::cout << describe(ob);
    if (!bad.empty()) {
        const size_t limit = verbose ? bad.size() : 60;
        std::ostringstream msg;
        msg << bad.size() << " verdicts differ from the nftables reference:\n";
        for (size_t i = 0; i < bad.size() && i < limit; i++)
            msg << describe(*bad[i]);
        if (bad.size() > limit)
            msg << "  ... and " << bad.size() - limit << " more (XI_NFTDIFF_VERBOSE=1 shows all)\n";
        msg << "\nreference ruleset:\n" << ref.ruleset();
        ADD_FAILURE() << msg.str();
    }
}

INSTANTIATE_TEST_SUITE_P(Configs, NftDifferential, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool> &i) {
                             return i.param ? "FlippedDefaults" : "Main";
                         });

} // namespace
} // namespace xi::test::nftdiff
