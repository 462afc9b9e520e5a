// Content hashes operators compare across edges: sha256 of the config file (what `sha256sum`
// prints) and of the compiled Maglev table.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace xi
{

std::string sha256_hex(std::string_view data);
std::string sha256_hex(const void *data, size_t len);

} // namespace xi
