// HandoffMode as a GoogleTest parameter: its name in test names (Handoff/Steer.X/tc) and in
// "GetParam() = tc". Apart from handoff_modes.h so that the benchmarks use the modes without
// GoogleTest.
#pragma once

#include <gtest/gtest.h>
#include <ostream>
#include <string>

#include "handoff_modes.h"

namespace xi::test
{

inline void PrintTo(const HandoffMode &m, std::ostream *os)
{
    *os << m.name;
}
inline std::string handoff_mode_name(const ::testing::TestParamInfo<HandoffMode> &info)
{
    return info.param.name;
}

} // namespace xi::test
