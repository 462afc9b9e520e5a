// Semantic checks of a parsed config: references, duplicates, overlaps, families, limits.
#pragma once

#include <vector>

#include "config.h"

namespace xi
{

void check_config(Config &c, std::vector<ConfigError> &errors);

} // namespace xi
