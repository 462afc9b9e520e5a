// Every BPF object loads, passes the verifier and shares its maps through the pins.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "bpffs.h"
#include "datapath.h"
#include "privileges.h"
#include "xi_names.h"

namespace
{

class LoadTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        XI_REQUIRE_PRIVILEGES();
        dir_ = paths_.instance(xi::test::scratch_instance("load"));
        xi::mkdir_p(dir_);
    }
    void TearDown() override
    {
        for (const auto &n : xi::list_dir(dir_))
            unlink((dir_ + "/" + n).c_str());
        rmdir(dir_.c_str());
    }
    xi::Paths paths_;
    std::string dir_;
};

TEST_F(LoadTest, EdgeObjectsLoadWithL3MeshEntries)
{
    xi::Datapath dp({dir_, true, false});
    for (auto p : {xi::Prog::XdpPublic, xi::Prog::TcPublicIngress, xi::Prog::TcPublicEgress,
                   xi::Prog::MeshIngress, xi::Prog::MeshEgress})
        EXPECT_GE(dp.prog_fd(p), 0) << dp.prog_name(p);
    EXPECT_EQ(dp.prog_name(xi::Prog::MeshIngress), "xi_mesh_in_l3");
}

TEST_F(LoadTest, EveryNamedMapIsPinnedUnderItsName)
{
    // maps/xi_names.h is the one place the loader takes map names from; each must be the name
    // of a map the BPF objects declare and pin, or the loader would open nothing.
    xi::Datapath dp({dir_, true, false});
    for (const char *name : {
#define XI_NAME_ITEM(n) n,
             XI_PINNED_MAPS(XI_NAME_ITEM)
#undef XI_NAME_ITEM
         }) {
        int fd = bpf_obj_get((dir_ + "/" + name).c_str());
        EXPECT_GE(fd, 0) << name << " is not pinned in " << dir_;
        if (fd >= 0)
            close(fd);
        EXPECT_GE(dp.map_fd(name), 0) << name;
    }
}

TEST_F(LoadTest, BackendLoadsOnlyMeshObjectsWithL2Entries)
{
    xi::Datapath dp({dir_, false, true});
    EXPECT_LT(dp.prog_fd(xi::Prog::XdpPublic), 0);
    EXPECT_GE(dp.prog_fd(xi::Prog::MeshIngress), 0);
    EXPECT_EQ(dp.prog_name(xi::Prog::MeshEgress), "xi_mesh_out_l2");
}

TEST_F(LoadTest, MapsArePinnedOnceAndSharedAcrossObjects)
{
    xi::Datapath dp({dir_, true, false});
    // The same map seen through two different objects is one kernel map.
    bpf_map_info a{}, b{};
    __u32 len = sizeof(a);
    int pinned = bpf_obj_get((dir_ + "/xi_stats").c_str());
    ASSERT_GE(pinned, 0);
    ASSERT_EQ(bpf_obj_get_info_by_fd(pinned, &a, &len), 0);
    len = sizeof(b);
    ASSERT_EQ(bpf_obj_get_info_by_fd(dp.map_fd("xi_stats"), &b, &len), 0);
    EXPECT_EQ(a.id, b.id);
    close(pinned);
    // A second load (an upgrade, a restarted loader) reuses the pins instead of new maps.
    xi::Datapath again({dir_, true, false});
    bpf_map_info c{};
    len = sizeof(c);
    ASSERT_EQ(bpf_obj_get_info_by_fd(again.map_fd("xi_stats"), &c, &len), 0);
    EXPECT_EQ(a.id, c.id);
}

} // namespace
