#include "generation.h"

#include <algorithm>
#include <bpf/bpf.h>

#include "peer_state.h"

namespace xi
{

namespace
{

// Until when the previous owners of a fleet change give second chances: drain_timeout from the
// first generation of this step published here; a reload of the same step (the same Maglev
// entries as the running generation) keeps the running deadline. 0 when nothing moved.
uint32_t second_chance_until(const GenMaps &maps, const ActiveGen &cur,
                             const std::array<std::string, 4> &running_digests,
                             const GenContent &gen, uint32_t drain_timeout)
{
    if (!gen.second_chance_slots)
        return 0;
    xi_gen_config running{};
    if (cur.generation && running_digests[kTableMaglev] == gen.table_digests[kTableMaglev] &&
        bpf_map_lookup_elem(maps.gen_config, &cur.slot, &running) == 0 &&
        running.second_chance_until)
        return running.second_chance_until;
    return boot_units_after(drain_timeout);
}

} // namespace

NextGeneration publish_next_generation(
    const GenMaps &maps, const Config &config, const std::string &node, uint32_t mesh_ifindex,
    const std::array<std::string, 4> &running_digests,
    const std::function<void(uint32_t slot, const GenContent &gen)> &before_flip)
{
    ActiveGen cur = read_active(maps);
    CompileInput in;
    in.config = &config;
    in.node = node;
    in.mesh_ifindex = mesh_ifindex;
    in.generation = cur.generation + 1;
    in.prev_node_slots = read_catalog(maps, CatalogKind::Node);
    in.prev_rule_slots = read_catalog(maps, CatalogKind::Rule);
    NextGeneration next;
    next.gen = compile_generation(in);
    next.gen.cfg.second_chance_until =
        second_chance_until(maps, cur, running_digests, next.gen, config.drain_timeout);
    const GenContent &gen = next.gen;
    test_pause("compiled");
    // The catalog names the counter slots for status and metrics, and the next compile keeps
    // the slots of the names it finds there, so it must cover the running generation at every
    // moment: until the flip it holds the names of both generations (new names take slots
    // that are free in the running one), after the flip only the new ones. A loader killed in
    // between leaves a superset, which the next reload trims; written the other way round, a
    // kill would leave the running generation's counters unnamed and their slots up for reuse.
    auto merged = [](std::vector<std::string> prev, const std::vector<std::string> &names) {
        prev.resize(std::max(prev.size(), names.size()));
        for (size_t i = 0; i < names.size(); i++)
            if (!names[i].empty())
                prev[i] = names[i];
        return prev;
    };
    write_catalog(maps, CatalogKind::Node, merged(in.prev_node_slots, gen.node_names));
    write_catalog(maps, CatalogKind::Rule, merged(in.prev_rule_slots, gen.rule_names));
    std::vector<std::string> roles{"world"};
    for (const auto &id : config.identities)
        roles.push_back(id.name);
    write_catalog(maps, CatalogKind::Role, roles);
    test_pause("catalog");

    next.res = publish_generation(maps, gen, running_digests, [&](uint32_t slot) {
        if (before_flip)
            before_flip(slot, gen);
    });
    write_catalog(maps, CatalogKind::Node, gen.node_names);
    write_catalog(maps, CatalogKind::Rule, gen.rule_names);
    return next;
}

} // namespace xi
