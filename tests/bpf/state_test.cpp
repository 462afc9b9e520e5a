// The state record in its pinned map: an instance a release recorded in binary (xi_loader) is
// read, and the first save moves it to JSON (xi_state) and removes the old record, as
// `attach --replace` from that release does (e2e.upgrade_replace runs the release itself).
#include <bpf/bpf.h>
#include <cstring>
#include <gtest/gtest.h>
#include <unistd.h>

#include "bpffs.h"
#include "error.h"
#include "legacy_state.h"
#include "privileges.h"
#include "state.h"
#include "state_legacy.h"
#include "xi_names.h"

namespace
{

class StateMapTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        XI_REQUIRE_PRIVILEGES();
        dir_ = paths_.instance(xi::test::scratch_instance("state"));
        xi::mkdir_p(dir_);
    }
    void TearDown() override
    {
        for (const auto &n : xi::list_dir(dir_))
            unlink((dir_ + "/" + n).c_str());
        rmdir(dir_.c_str());
    }
    bool pinned(const char *name) const { return access((dir_ + "/" + name).c_str(), F_OK) == 0; }
    // A map of the given value size pinned under name, holding value (nullptr: never written).
    void pin_map(const char *name, size_t value_size, const void *value)
    {
        int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, 4, value_size, 1, nullptr);
        ASSERT_GE(fd, 0) << strerror(errno);
        uint32_t key = 0;
        if (value) {
            ASSERT_EQ(bpf_map_update_elem(fd, &key, value, BPF_ANY), 0) << strerror(errno);
        }
        ASSERT_EQ(bpf_obj_pin(fd, (dir_ + "/" + name).c_str()), 0) << strerror(errno);
        close(fd);
    }
    void pin_legacy()
    {
        auto raw = xi::test::legacy_record();
        pin_map(XI_MAP_STATE_LEGACY, sizeof(raw), &raw);
    }
    xi::Paths paths_;
    std::string dir_;
};

TEST_F(StateMapTest, NoRecordIsNoInstance)
{
    EXPECT_FALSE(xi::load_state(dir_).has_value());
}

TEST_F(StateMapTest, SavedRecordReadsBack)
{
    xi::InstanceState s;
    s.instance = "edge";
    s.reloads_failed = 2;
    s.last_error = std::string(10000, 'x'); // longer than a record keeps
    xi::save_state(dir_, s);
    auto back = xi::load_state(dir_);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->instance, "edge");
    EXPECT_EQ(back->reloads_failed, 2u);
    EXPECT_EQ(back->last_error.size(), 4096u + 3);
    EXPECT_TRUE(pinned(XI_MAP_STATE));
}

TEST_F(StateMapTest, ReleaseRecordIsReadThenMigratedByTheFirstSave)
{
    pin_legacy();
    auto s = xi::load_state(dir_);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->node, "fra1");
    EXPECT_EQ(s->gens[1].generation, 8u);
    ASSERT_EQ(s->attachments.size(), 2u);
    EXPECT_EQ(s->attachments[0].xdp_mode, xi::XdpMode::Generic);

    s->reloads_ok++;
    xi::save_state(dir_, *s);
    EXPECT_FALSE(pinned(XI_MAP_STATE_LEGACY)) << "the release's record outlived the migration";
    auto back = xi::load_state(dir_);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->reloads_ok, 5u);
    EXPECT_EQ(back->attachments[0].pin_name, "link_xdp_eth0");
}

TEST_F(StateMapTest, AnUnwrittenJsonRecordFallsBackToTheReleaseRecord)
{
    // An attach --replace that died between creating xi_state and writing it.
    pin_legacy();
    pin_map(XI_MAP_STATE, 64 * 1024, nullptr);
    auto s = xi::load_state(dir_);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->instance, "edge");
}

TEST_F(StateMapTest, AReleaseRecordOfAnotherVersionIsRefused)
{
    xi::LegacyState raw{};
    raw.magic = xi::kLegacyMagic;
    raw.version = 1;
    pin_map(XI_MAP_STATE_LEGACY, sizeof(raw), &raw);
    EXPECT_THROW(xi::load_state(dir_), xi::Error);
}

} // namespace
