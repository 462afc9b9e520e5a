// Root-labelled tests skip only when the process truly lacks the capabilities; `make test`
// then reports the skips loudly (tools/run-tests).
#pragma once

#include <string>

namespace xi::test
{

bool have_bpf_privileges(); // CAP_BPF (or CAP_SYS_ADMIN) and CAP_NET_ADMIN, effective

// A scratch instance name unique to this process, for pins under /sys/fs/bpf/xdp-ingress.
std::string scratch_instance(const std::string &tag);

} // namespace xi::test

// In a GoogleTest case (the file includes gtest): skip it without the capabilities.
#define XI_REQUIRE_PRIVILEGES()                                                                    \
    do {                                                                                           \
        if (!xi::test::have_bpf_privileges())                                                      \
            GTEST_SKIP() << "needs CAP_BPF and CAP_NET_ADMIN";                                     \
    } while (0)
