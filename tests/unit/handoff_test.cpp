// Choosing the hand-off from a probe result, and reading a refused helper out of a verifier log:
// pure logic, no kernel (the probe itself runs in tests/bpf/probe_test.cpp).
#include <gtest/gtest.h>

#include "error.h"
#include "handoff.h"
#include "libbpf_log.h"

namespace xi
{
namespace
{

HelperProbe probe(HelperProbe::Result r, std::string verifier = {}, int err = 0)
{
    HelperProbe p;
    p.result = r;
    p.verifier = std::move(verifier);
    p.err = err;
    return p;
}

const HelperProbe kAvailable = probe(HelperProbe::Result::Available);
const HelperProbe kRefused =
    probe(HelperProbe::Result::Refused,
          "program of this type cannot use helper bpf_xdp_adjust_meta#54", EINVAL);

TEST(Handoff, ParsesTheThreeRequestsAndNothingElse)
{
    EXPECT_EQ(parse_handoff("auto"), HandoffRequest::Auto);
    EXPECT_EQ(parse_handoff("xdp-mark"), HandoffRequest::XdpMark);
    EXPECT_EQ(parse_handoff("tc"), HandoffRequest::Tc);
    EXPECT_FALSE(parse_handoff("TC"));
    EXPECT_FALSE(parse_handoff("xdp"));
    EXPECT_FALSE(parse_handoff(""));
    EXPECT_STREQ(handoff_name(XI_HANDOFF_TC), "tc");
    EXPECT_STREQ(handoff_name(XI_HANDOFF_XDP_MARK), "xdp-mark");
    EXPECT_STREQ(handoff_name(XI_HANDOFF_NONE), "");
}

TEST(Handoff, TcAndAutoAreTcWhateverTheKernel)
{
    // auto is tc: it benchmarks no slower per packet and cheaper per MB (docs/benchmarks.md).
    for (const auto &p : {kAvailable, kRefused}) {
        EXPECT_EQ(choose_handoff(HandoffRequest::Tc, "eth0", p), XI_HANDOFF_TC);
        EXPECT_EQ(choose_handoff(HandoffRequest::Auto, "eth0", p), XI_HANDOFF_TC);
    }
}

TEST(Handoff, XdpMarkWhereTheKernelAllowsIt)
{
    EXPECT_EQ(choose_handoff(HandoffRequest::XdpMark, "eth0", kAvailable), XI_HANDOFF_XDP_MARK);
}

TEST(Handoff, XdpMarkOnAKernelThatRefusesItIsAnErrorNamingTheCauseAndTheWayOut)
{
    try {
        choose_handoff(HandoffRequest::XdpMark, "eth0", kRefused);
        FAIL() << "no error";
    } catch (const Error &e) {
        EXPECT_EQ(e.full(),
                  "hand-off xdp-mark cannot run on eth0: this kernel's verifier refuses "
                  "bpf_xdp_adjust_meta in XDP programs (\"program of this type cannot use helper "
                  "bpf_xdp_adjust_meta#54\") -- use --handoff tc (the default)");
    }
    // A probe that could not even load (no capability) says so, with the errno.
    try {
        choose_handoff(HandoffRequest::XdpMark, "eth0",
                       probe(HelperProbe::Result::Unknown, "", EPERM));
        FAIL() << "no error";
    } catch (const Error &e) {
        EXPECT_NE(e.full().find("did not load (Operation not permitted)"), std::string::npos)
            << e.full();
    }
}

TEST(Handoff, RefusedHelperIsReadFromTheVerifierLog)
{
    std::string log = "0: R1=ctx() R10=fp0\n1: (85) call bpf_xdp_adjust_meta#54\n"
                      "program of this type cannot use helper bpf_xdp_adjust_meta#54\n"
                      "processed 2 insns\n";
    EXPECT_EQ(refused_helper(log), "bpf_xdp_adjust_meta#54");
    EXPECT_EQ(
        refused_helper("1: (85) call bpf_skb_vlan_pop#19\nunknown func bpf_skb_vlan_pop#19\n"),
        "bpf_skb_vlan_pop#19"); // 6.1's words
    EXPECT_EQ(refused_helper("invalid access to packet, off=0 size=4\n"), "");
    EXPECT_EQ(refused_helper(""), "");
}

} // namespace
} // namespace xi
