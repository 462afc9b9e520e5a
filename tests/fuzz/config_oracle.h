// The config fuzzer's body (issue #10), shared by the libFuzzer target (tests/fuzz/
// config_fuzz.cpp, clang + ASan + UBSan) and the corpus replay in the unit tests (g++):
// parse + check + compile any bytes, then, when the config was accepted, read the same bytes
// again with libyaml - an independent YAML implementation - and compare what it sees with what
// the compiler got. A second yaml-cpp pass would repeat the bugs it should catch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace xi
{
struct Config;
}

namespace xi::fuzz
{

// "" when the input was refused, or accepted and libyaml agrees; else what disagrees (the
// fuzzer aborts on it, the replay test fails with it). Never throws.
std::string check_config_bytes(const uint8_t *data, size_t size);

// How libyaml's reading of text disagrees with config c, or "" (check_config_bytes' oracle; a
// test shows it can fail by giving it another file's config).
std::string libyaml_disagrees(const std::string &text, const Config &c);

} // namespace xi::fuzz
