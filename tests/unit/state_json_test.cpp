// The loader's state record as JSON (loader/kernel/state_json.cpp) and the binary record of
// earlier releases it migrates from (state_legacy.cpp): what a record says survives the trip,
// and a record this version cannot read is refused with its place named, never half-read.
#include <cstring>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "error.h"
#include "legacy_state.h"
#include "state.h"
#include "state_legacy.h"
#include "xi_structs.h"

namespace
{

xi::InstanceState sample()
{
    xi::InstanceState s;
    s.instance = "edge";
    s.node = "fra1";
    s.netns = "/run/netns/pop";
    s.gens[0] = {7, "/etc/xdp-ingress/fleet.yaml", "aa", "bb", {"m", "v", "i", "r"}};
    s.gens[1] = {8, "/etc/xdp-ingress/fleet.yaml", "cc", "dd", {"m2", "v2", "i2", "r2"}};
    s.attached_at = 1700000000;
    s.reloaded_at = 1700000100;
    s.reloads_ok = 3;
    s.reloads_failed = 1;
    s.last_failure_at = 1700000050;
    s.last_error = "fleet.yaml:4:2: unknown key";
    xi::Attachment x{.ifname = "eth0",
                     .ifindex = 2,
                     .hook = 1,
                     .method = xi::AttachMethod::XdpLink,
                     .xdp_mode = xi::XdpMode::Native,
                     .handoff = XI_HANDOFF_TC,
                     .prog_id = 41,
                     .prog_name = "xdp_public",
                     .pin_name = "link_xdp_eth0"};
    xi::Attachment c{.ifname = "wg0",
                     .ifindex = 5,
                     .hook = 4,
                     .method = xi::AttachMethod::Clsact,
                     .created_qdisc = true,
                     .prog_id = 42,
                     .tc_handle = 1,
                     .tc_priority = 49152,
                     .prog_name = "xi_mesh_in_l3",
                     .pin_name = {}};
    s.attachments = {x, c};
    return s;
}

void expect_same(const xi::InstanceState &a, const xi::InstanceState &b)
{
    EXPECT_EQ(xi::state_to_json(a), xi::state_to_json(b));
    ASSERT_EQ(a.attachments.size(), b.attachments.size());
    for (size_t i = 0; i < a.attachments.size(); i++) {
        EXPECT_EQ(a.attachments[i].method, b.attachments[i].method) << i;
        EXPECT_EQ(a.attachments[i].xdp_mode, b.attachments[i].xdp_mode) << i;
        EXPECT_EQ(a.attachments[i].created_qdisc, b.attachments[i].created_qdisc) << i;
    }
}

TEST(StateJson, RoundTripsEveryField)
{
    auto s = sample();
    auto back = xi::state_from_json(xi::state_to_json(s), "xi_state");
    expect_same(s, back);
    EXPECT_EQ(back.gens[1].table_digests[3], "r2");
    EXPECT_EQ(back.attachments[1].tc_priority, 49152u);
    EXPECT_EQ(back.attachments[0].pin_name, "link_xdp_eth0");
}

TEST(StateJson, NamesMethodsAndModesInWords)
{
    auto j = nlohmann::json::parse(xi::state_to_json(sample()));
    EXPECT_EQ(j["format"], "xdp-ingress-state");
    EXPECT_EQ(j["attachments"][0]["method"], "xdp");
    EXPECT_EQ(j["attachments"][0]["xdp_mode"], "native");
    EXPECT_EQ(j["attachments"][1]["method"], "clsact");
    EXPECT_FALSE(j["attachments"][1].contains("xdp_mode"));
}

TEST(StateJson, FieldsALaterReleaseAddsOrAnEarlierLacksAreTolerated)
{
    auto j = nlohmann::json::parse(xi::state_to_json(sample()));
    j["future_field"] = {1, 2};
    j.erase("last_error");
    j["attachments"][0].erase("handoff");
    auto back = xi::state_from_json(j.dump(), "xi_state");
    EXPECT_EQ(back.last_error, "");
    EXPECT_EQ(back.attachments[0].handoff, 0);
    EXPECT_EQ(back.reloads_ok, 3u);
}

TEST(StateJson, DatapathFeaturesRoundTripAndAReleasesRecordHasNone)
{
    auto s = sample();
    s.datapath_features = xi::kDatapathFeatures;
    auto back = xi::state_from_json(xi::state_to_json(s), "xi_state");
    EXPECT_TRUE(back.has_feature("second-chance"));
    auto j = nlohmann::json::parse(xi::state_to_json(s));
    j.erase("datapath_features"); // what the release before fleet changes wrote
    EXPECT_FALSE(xi::state_from_json(j.dump(), "xi_state").has_feature("second-chance"));
}

std::string refusal(const std::string &text)
{
    try {
        xi::state_from_json(text, "/sys/fs/bpf/xdp-ingress/edge/xi_state");
    } catch (const xi::Error &e) {
        return e.full();
    }
    return "accepted";
}

TEST(StateJson, RefusesWhatItCannotReadAndSaysWhere)
{
    auto good = nlohmann::json::parse(xi::state_to_json(sample()));
    auto newer = good;
    newer["version"] = 4;
    EXPECT_NE(refusal(newer.dump()).find("has state version 4, expected 3"), std::string::npos);
    auto bad_method = good;
    bad_method["attachments"][0]["method"] = "netfilter";
    EXPECT_NE(refusal(bad_method.dump()).find("unknown attach method \"netfilter\""),
              std::string::npos);
    auto one_slot = good;
    one_slot["slots"].erase(1);
    EXPECT_NE(refusal(one_slot.dump()).find("2 generation slots"), std::string::npos);
    auto no_format = good;
    no_format.erase("format");
    EXPECT_NE(refusal(no_format.dump()).find("not an xdp-ingress state record"), std::string::npos);
    for (const char *text : {"", "{\"format\": \"xdp-ingress-state\", \"vers", "[1,2]", "null"}) {
        auto why = refusal(text);
        EXPECT_NE(why.find("/sys/fs/bpf/xdp-ingress/edge/xi_state"), std::string::npos) << text;
        EXPECT_NE(why.find("detach with the xdp-ingress version"), std::string::npos) << text;
    }
}

TEST(StateJson, InvalidUtf8InLastErrorIsStillWritable)
{
    auto s = sample();
    s.last_error = std::string("bad byte \xff here");
    auto back = xi::state_from_json(xi::state_to_json(s), "xi_state");
    EXPECT_EQ(back.last_error.rfind("bad byte ", 0), 0u);
    EXPECT_EQ(back.reloads_ok, 3u);
}

TEST(StateLegacy, ARecordOfTheLastReleaseReadsAsTheSameState)
{
    auto raw = xi::test::legacy_record();
    auto back = xi::decode_legacy_state(raw, "xi_loader");
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->instance, "edge");
    EXPECT_EQ(back->netns, "/run/netns/pop");
    EXPECT_EQ(back->gens[1].generation, 8u);
    EXPECT_EQ(back->gens[1].table_digests[3], "r2");
    EXPECT_EQ(back->reloads_failed, 1u);
    EXPECT_EQ(back->last_error, std::string(sizeof(raw.last_error), 'e'));
    ASSERT_EQ(back->attachments.size(), 2u);
    EXPECT_EQ(back->attachments[0].pin_name, "link_xdp_eth0");
    EXPECT_EQ(back->attachments[0].xdp_mode, xi::XdpMode::Generic);
    EXPECT_EQ(back->attachments[1].method, xi::AttachMethod::Clsact);
    EXPECT_TRUE(back->attachments[1].created_qdisc);
    EXPECT_EQ(back->attachments[1].tc_priority, 49152u);
    EXPECT_EQ(back->attachments[1].handoff, XI_HANDOFF_TC);
    // and it survives the trip into this release's record
    expect_same(*back, xi::state_from_json(xi::state_to_json(*back), "xi_state"));

    raw.n_attach = 200; // more than the layout holds: the 8 it holds
    EXPECT_EQ(xi::decode_legacy_state(raw, "xi_loader")->attachments.size(),
              xi::kLegacyMaxAttachments);
    raw.magic = 0; // created, never written
    EXPECT_FALSE(xi::decode_legacy_state(raw, "xi_loader").has_value());
    raw.magic = xi::kLegacyMagic;
    raw.version = 1;
    EXPECT_THROW(xi::decode_legacy_state(raw, "xi_loader"), xi::Error);
}

} // namespace
