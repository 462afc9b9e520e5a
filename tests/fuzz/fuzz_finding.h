// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// What the libFuzzer targets do with a finding: say which check broke, then abort, so libFuzzer
// saves the input as a crasher (tools/fuzz and tools/fuzz-packets grep for the first line).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace xi::fuzz
{

inline int report_finding(const char *check, const std::string &why)
{
    if (!why.empty()) {
        std::fprintf(stderr, "%s: %s\n", check, why.c_str());
        std::abort();
    }
    return 0;
}

} // namespace xi::fuzz
