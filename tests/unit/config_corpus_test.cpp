// The config fuzzer's corpus and every crasher it found, replayed on each build: parse, check,
// compile, and libyaml's independent reading agrees with what was compiled (tests/fuzz).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "config.h"
#include "config_oracle.h"

namespace
{

void replay(const std::string &dir, size_t min_files)
{
    size_t n = 0;
    for (const auto &e : std::filesystem::directory_iterator(dir)) {
        if (!e.is_regular_file() || e.path().filename().string().front() == '.')
            continue;
        std::ifstream in(e.path(), std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        EXPECT_EQ(xi::fuzz::check_config_bytes(reinterpret_cast<const uint8_t *>(bytes.data()),
                                               bytes.size()),
                  "")
            << e.path();
        n++;
    }
    EXPECT_GE(n, min_files) << dir;
}

TEST(ConfigCorpus, EverySeedAgreesWithLibyaml)
{
    replay(XI_SOURCE_DIR "/tests/fuzz/corpus", 5);
}

TEST(ConfigCorpus, EveryCrasherFoundIsFixed)
{
    replay(XI_SOURCE_DIR "/tests/fuzz/crashers", 0);
}

TEST(ConfigCorpus, TheOracleCatchesADisagreement)
{
    // The oracle can fail: the example's config against libyaml's reading of a copy that says
    // something else, one difference at a time.
    std::ifstream in(XI_SOURCE_DIR "/policies/fleet-example.yaml");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto res = xi::parse_config(text, "fleet-example.yaml");
    ASSERT_TRUE(res.config);
    EXPECT_EQ(xi::fuzz::oracle_disagrees(text, *res.config), "");
    auto edit = [&](const std::string &from, const std::string &to) {
        std::string t = text;
        auto pos = t.find(from);
        EXPECT_NE(pos, std::string::npos) << from;
        return t.replace(pos, from.size(), to);
    };
    EXPECT_EQ(xi::fuzz::oracle_disagrees(edit("action: allow", "action: deny"), *res.config)
                  .rfind("rule ", 0),
              0u);
    EXPECT_EQ(xi::fuzz::oracle_disagrees(edit("ingress: deny", "ingress: allow"), *res.config),
              "default differs");
    EXPECT_EQ(xi::fuzz::oracle_disagrees(text + "---\nx: 1\n", *res.config),
              "libyaml sees a second document in an accepted config");
    EXPECT_EQ(xi::fuzz::oracle_disagrees(text + "version: 1\n", *res.config),
              "libyaml sees the key 'version' twice in one mapping of an accepted config");
}

} // namespace
