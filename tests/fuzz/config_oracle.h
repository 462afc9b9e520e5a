// The config fuzzer's body (issue #10), shared by the libFuzzer target (tests/fuzz/
// config_fuzz.cpp, clang + ASan + UBSan) and the corpus replay in the unit tests (g++):
// parse + check + compile any bytes, then, when the config was accepted, read the same bytes
// again with libyaml's composer and with yaml-cpp - independent readings - and compare what they
// see with what the compiler got. A second pass of the loader's reader would repeat its bugs.
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

// How an independent reading of text disagrees with config c, or "" (check_config_bytes'
// oracle; a test shows it can fail by giving it another file's config). Two readings: libyaml's
// own composer (the loader shares only its scanner and parser) and yaml-cpp (shares nothing).
std::string oracle_disagrees(const std::string &text, const Config &c);

} // namespace xi::fuzz
