// `status`: what is attached where, which generation runs, the counters. One JSON document is
// built from the pins (works from any process, after the attaching one exited); the plain
// printer renders the same document for people.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "bpffs.h"

namespace xi
{

struct Attachment;
// One attachment as the kernel sees it now: {interface, hook, program, program_id, attached, ...}
nlohmann::json attachment_status(const std::string &dir, const Attachment &a);
// Whether an attachment (as attachment_status describes it) is as it should be: attached, or
// a metadata guard whose interface has gone since (it takes its guard with it).
bool attachment_fine(const nlohmann::json &a);
nlohmann::json instance_status(const Paths &p, const std::string &instance);
std::string render_status(const nlohmann::json &instances);

} // namespace xi
