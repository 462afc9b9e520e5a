// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// libFuzzer target: mutated frames through every BPF program of the datapath
// (BPF_PROG_TEST_RUN), each run checked against its hook's invariants (packet_invariants.h).
// Needs CAP_BPF + CAP_NET_ADMIN. tools/fuzz-packets builds and runs it (make fuzz, make test).
#include "fuzz_finding.h"
#include "packet_invariants.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return xi::fuzz::report_finding("packet invariant", xi::fuzz::check_packet_bytes(data, size));
}
