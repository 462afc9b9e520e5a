// libFuzzer target over the config parser, checks and compiler, with libyaml as the
// differential oracle (config_oracle.h). Built by `make fuzz` (clang, -fsanitize=fuzzer,
// address,undefined); tools/fuzz runs it.
#include "config_oracle.h"
#include "fuzz_finding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return xi::fuzz::report_finding("config oracle", xi::fuzz::check_config_bytes(data, size));
}
