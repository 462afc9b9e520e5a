// libbpf's messages reach the user whole (a verifier log runs to megabytes), and a capture sees
// what libbpf said during one call.
#include <bpf/libbpf.h>
#include <cstdarg>
#include <gtest/gtest.h>

#include "libbpf_log.h"

namespace xi
{
namespace
{

std::string fmt(const char *f, ...)
{
    va_list a;
    va_start(a, f);
    std::string s = format_libbpf(f, a);
    va_end(a);
    return s;
}

TEST(LibbpfLog, AVerifierLogIsFormattedWhole)
{
    std::string log;
    for (int i = 0; i < 20000; i++)
        log += std::to_string(i) + ": (bf) r6 = r1 ; R1=ctx() R6=ctx()\n";
    ASSERT_GT(log.size(), 500000u);
    EXPECT_EQ(fmt("prog 'x': -- BEGIN PROG LOAD LOG --\n%s-- END PROG LOAD LOG --\n", log.c_str()),
              "prog 'x': -- BEGIN PROG LOAD LOG --\n" + log + "-- END PROG LOAD LOG --\n");
    EXPECT_EQ(fmt("short %d", 7), "short 7");
    EXPECT_EQ(fmt("%s", ""), "");
}

TEST(LibbpfLog, ACaptureRecordsWhatLibbpfSaysDuringOneCall)
{
    const char junk[] = "not an ELF object";
    std::string said;
    {
        LibbpfCapture cap(false);
        bpf_object *obj = bpf_object__open_mem(junk, sizeof(junk), nullptr);
        EXPECT_EQ(obj, nullptr);
        said = cap.text();
    }
    EXPECT_NE(said.find("elf"), std::string::npos) << said;
    // Gone with the capture: libbpf's printer is the previous one again.
    LibbpfCapture again(false);
    EXPECT_TRUE(again.text().empty());
}

} // namespace
} // namespace xi
