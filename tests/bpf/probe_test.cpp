// How attach decides what this kernel can run: the helper probe, the .rodata switch that keeps a
// refused helper out of the verifier's walk, and a refused helper named in the load error.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <memory>
#include <unistd.h>

#include "bpffs.h"
#include "datapath.h"
#include "dead_branch.skel.h"
#include "error.h"
#include "handoff.h"
#include "libbpf_log.h"
#include "privileges.h"

namespace xi::test
{
namespace
{

TEST(Probe, AHelperXdpMayCallIsAvailable)
{
    XI_REQUIRE_PRIVILEGES();
    EXPECT_EQ(probe_xdp_helper(BPF_FUNC_xdp_adjust_head).result, HelperProbe::Result::Available);
}

TEST(Probe, AHelperXdpMayNotCallIsRefusedWithTheVerifiersWords)
{
    XI_REQUIRE_PRIVILEGES();
    auto p = probe_xdp_helper(BPF_FUNC_skb_vlan_pop);
    EXPECT_EQ(p.result, HelperProbe::Result::Refused);
    // Newer verifiers say "program of this type cannot use helper", 6.1 "unknown func".
    EXPECT_TRUE(p.verifier == "program of this type cannot use helper bpf_skb_vlan_pop#19" ||
                p.verifier == "unknown func bpf_skb_vlan_pop#19")
        << p.verifier;
    EXPECT_EQ(p.err, EINVAL);
}

TEST(Probe, TheCachedMetaProbeAgreesWithAFreshOne)
{
    XI_REQUIRE_PRIVILEGES();
    EXPECT_EQ(probe_xdp_meta().result, probe_xdp_helper(BPF_FUNC_xdp_adjust_meta).result);
}

struct DeadBranchDeleter {
    void operator()(dead_branch *s) const { dead_branch__destroy(s); }
};

int load_dead_branch(bool use_helper, std::string *log)
{
    std::unique_ptr<dead_branch, DeadBranchDeleter> s(dead_branch__open());
    if (!s)
        return -errno;
    s->rodata->use_helper = use_helper;
    LibbpfCapture cap(false);
    int err = dead_branch__load(s.get());
    *log = cap.text();
    return err;
}

TEST(Probe, ARefusedHelperBehindARodataSwitchThatIsOffNeverReachesTheVerifier)
{
    XI_REQUIRE_PRIVILEGES();
    std::string log;
    EXPECT_EQ(load_dead_branch(false, &log), 0) << log;
    EXPECT_NE(load_dead_branch(true, &log), 0);
    EXPECT_EQ(refused_helper(log), "bpf_skb_vlan_pop#19") << log;
}

TEST(Probe, EveryHandoffOfXdpPublicLoadsWhereTheProbeSaysItCan)
{
    XI_REQUIRE_PRIVILEGES();
    Paths paths;
    std::string dir = paths.instance(scratch_instance("probe"));
    mkdir_p(dir);
    auto rm = [&] {
        for (const auto &n : list_dir(dir))
            unlink((dir + "/" + n).c_str());
        rmdir(dir.c_str());
    };
    try {
        Datapath tc({dir, true, false, XI_HANDOFF_TC});
        EXPECT_GE(tc.prog_fd(Prog::XdpPublic), 0);
        if (probe_xdp_meta().result == HelperProbe::Result::Available) {
            Datapath mark({dir, true, false, XI_HANDOFF_XDP_MARK});
            EXPECT_GE(mark.prog_fd(Prog::XdpPublic), 0);
        } else {
            // Where the kernel refuses the helper, loading the mark branch fails and says why.
            try {
                Datapath mark({dir, true, false, XI_HANDOFF_XDP_MARK});
                ADD_FAILURE() << "xdp-mark loaded although the probe said it cannot";
            } catch (const Error &e) {
                EXPECT_NE(e.full().find("refuses the helper bpf_xdp_adjust_meta#54"),
                          std::string::npos)
                    << e.full();
            }
        }
    } catch (...) {
        rm();
        throw;
    }
    rm();
}

} // namespace
} // namespace xi::test
