// Command-line plumbing shared by the verbs: global flags, output mode, error rendering.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "bpffs.h"
#include "json_text.h"

namespace xi
{

struct Globals {
    bool json = false;
    bool pretty = false;
    bool verbose = false;
    Paths paths;
};

// A JSON document as text; bytes that are not UTF-8 (from user input) become U+FFFD.
// Print a JSON document (pretty with -p) on stdout.
void print_json(const Globals &g, const nlohmann::json &j);
// bpftool style: "Error: <what>: <strerror> -- <hint>" on stderr, or {"error": ...} on stdout.
void print_error(const Globals &g, const std::string &message);
// Route libbpf's messages into spdlog: warnings always (they carry the verifier log on a
// load failure), the rest only with -v. Our own info lines (the audit trail) are on by default.
void setup_logging(bool verbose);

} // namespace xi
