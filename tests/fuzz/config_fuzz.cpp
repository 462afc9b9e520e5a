// libFuzzer target over the config parser, checks and compiler, with libyaml as the
// differential oracle (config_oracle.h). Built by `make fuzz` (clang, -fsanitize=fuzzer,
// address,undefined); tools/fuzz runs it.
#include <cstdio>
#include <cstdlib>

#include "config_oracle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string why = xi::fuzz::check_config_bytes(data, size);
    if (!why.empty()) {
        std::fprintf(stderr, "config oracle: %s\n", why.c_str());
        std::abort(); // libFuzzer saves the input as a crasher
    }
    return 0;
}
