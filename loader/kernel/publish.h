// Writing a compiled generation into the datapath: fill the inactive slot completely (new inner
// maps, arrays), then flip xi_active with one store. Packets see the old generation or the new
// one, never a mix, never an empty table (docs/reload.md).
#pragma once

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "compile.h"

namespace xi
{

// File descriptors of the pinned maps a publish touches.
struct GenMaps {
    int active = -1, gen_config = -1, nodes = -1;
    int maglev = -1, vips = -1, idents = -1, rules = -1;
    int catalog = -1;

    static GenMaps open_pinned(const std::string &dir); // throws; closes on destruction
    ~GenMaps();
    GenMaps() = default;
    GenMaps(GenMaps &&o) noexcept;
    GenMaps(const GenMaps &) = delete;
    GenMaps &operator=(const GenMaps &) = delete;

private:
    bool owned_ = false;
};

struct PublishResult {
    uint32_t slot = 0;       // the slot that became active
    uint64_t generation = 0; // its generation number
    double fill_ms = 0;      // time to fill the inactive slot
    int tables_reused = 0;   // unchanged tables shared with the previous generation
};

// The generation currently active (0 if none yet) and its slot.
struct ActiveGen {
    uint32_t slot = 0;
    uint64_t generation = 0;
};
ActiveGen read_active(const GenMaps &m);

// running_digests: table digests of the active generation (empty = unknown): a table whose
// digest is unchanged is not rebuilt, the running inner map is shared by both slots (inner maps
// are never written after they are published, so sharing is safe). A reload then costs what
// changed, table by table. before_flip runs after the slot is filled, before it goes live
// (the caller records what the slot holds).
PublishResult publish_generation(const GenMaps &m, const GenContent &g,
                                 const std::array<std::string, 4> &running_digests = {},
                                 const std::function<void(uint32_t slot)> &before_flip = {});

// Test hook (tests/e2e/reload_crash.sh, docs/reload.md), a no-op unless the environment has
// XI_TEST_PAUSE=PHASE: a publish that reaches PHASE prints "xi-test-pause PHASE pid=N" on stderr
// and blocks until a signal ends the process, so a test can SIGKILL it exactly there. Phases
// in order: compiled, catalog, mid-fill, filled, recorded, flipped.
void test_pause(const char *phase);

// Catalog of names by slot (nodes, rules, roles) for status/metrics/monitor.
enum class CatalogKind { Node, Rule, Role };
std::vector<std::string> read_catalog(const GenMaps &m, CatalogKind kind);
void write_catalog(const GenMaps &m, CatalogKind kind, const std::vector<std::string> &names);

} // namespace xi
