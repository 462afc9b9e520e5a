// JSON as text for everything the agent and the CLI print or serve (/healthz, --json).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace xi
{

// Error texts quote what the user typed, which may not be UTF-8: such bytes become U+FFFD
// rather than an exception (one inside main's handler aborted the process).
inline std::string json_text(const nlohmann::json &j, int indent = -1)
{
    return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace xi
