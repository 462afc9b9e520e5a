// Semantic checks of a parsed config: references, duplicates, overlaps, families, limits.
#pragma once

#include <vector>

#include "config.h"

namespace xi
{

void check_config(Config &c, std::vector<ConfigError> &errors);

// A name of a node, VIP, identity or rule: 1-63 characters of letters, digits, '-', '_', '.'
// (safe in metrics labels, logs and pin paths).
bool valid_name(const std::string &s);

} // namespace xi
