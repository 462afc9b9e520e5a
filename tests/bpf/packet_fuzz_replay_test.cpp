// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Every frame the packet fuzzer ever broke an invariant with (tests/fuzz/packet_crashers/,
// committed with its fix) keeps every invariant: the same check the fuzzer runs
// (tests/fuzz/packet_invariants.h), here without clang's fuzzer build, on every kernel.
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>

#include "packet_invariants.h"
#include "privileges.h"

namespace
{

TEST(PacketFuzzReplay, EveryCommittedCrasherKeepsTheInvariants)
{
    XI_REQUIRE_PRIVILEGES();
    int n = 0;
    for (const auto &e :
         std::filesystem::directory_iterator(XI_SOURCE_DIR "/tests/fuzz/packet_crashers")) {
        if (e.path().filename() == ".gitkeep")
            continue;
        std::ifstream f(e.path(), std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        EXPECT_EQ(xi::fuzz::check_packet_bytes(reinterpret_cast<const uint8_t *>(bytes.data()),
                                               bytes.size()),
                  "")
            << e.path();
        n++;
    }
    RecordProperty("crashers", n);
}

} // namespace
