#include "publish.h"

#include <bpf/bpf.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

#include "error.h"
#include "xi_common.h"
#include "xi_names.h"

namespace xi
{

namespace
{

constexpr const char *kCatalogMap = XI_MAP_CATALOG;
constexpr size_t kNameLen = 64;
constexpr uint32_t kCatalogNodes = 0;
constexpr uint32_t kCatalogRules = kCatalogNodes + XI_MAX_NODES;
constexpr uint32_t kCatalogRoles = kCatalogRules + XI_MAX_RULE_SLOTS;
constexpr uint32_t kCatalogSize = kCatalogRoles + XI_MAX_ROLES;

struct CatalogName {
    char name[kNameLen];
};

int open_map(const std::string &dir, const char *name)
{
    std::string path = dir + "/" + name;
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0)
        throw Error("cannot open pinned map " + path, errno,
                    "is the instance attached? (xdp-ingress status)");
    return fd;
}

int open_or_create_catalog(const std::string &dir)
{
    std::string path = dir + "/" + kCatalogMap;
    int fd = bpf_obj_get(path.c_str());
    if (fd >= 0)
        return fd;
    fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, kCatalogMap, 4, sizeof(CatalogName), kCatalogSize,
                        nullptr);
    if (fd < 0)
        throw Error(std::string("cannot create map ") + kCatalogMap, errno);
    if (bpf_obj_pin(fd, path.c_str()) != 0) {
        int err = errno;
        close(fd);
        throw Error("cannot pin " + path, err);
    }
    return fd;
}

void check(int rc, const std::string &what)
{
    if (rc != 0)
        throw Error(what, errno);
}

// Batch update where the kernel supports it for the map type, element by element otherwise.
template <typename K, typename V>
void update_all(int fd, const std::vector<K> &keys, const std::vector<V> &vals,
                const std::string &what)
{
    if (keys.empty())
        return;
    __u32 count = keys.size();
    LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = 0, .flags = 0);
    if (bpf_map_update_batch(fd, keys.data(), vals.data(), &count, &opts) == 0)
        return;
    if (errno != EINVAL && errno != 524 /* ENOTSUPP, kernel-internal */ && errno != EOPNOTSUPP)
        throw Error("cannot write " + what, errno);
    for (size_t i = 0; i < keys.size(); i++)
        check(bpf_map_update_elem(fd, &keys[i], &vals[i], BPF_ANY), "cannot write " + what);
}

template <typename K, typename V>
int make_inner(bpf_map_type type, const char *name, uint32_t max_entries, uint32_t flags,
               const std::vector<std::pair<K, V>> &entries)
{
    LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);
    int fd = bpf_map_create(type, name, sizeof(K), sizeof(V), max_entries, &opts);
    if (fd < 0)
        throw Error(std::string("cannot create map ") + name, errno);
    std::vector<K> keys;
    std::vector<V> vals;
    keys.reserve(entries.size());
    vals.reserve(entries.size());
    for (const auto &[k, v] : entries) {
        keys.push_back(k);
        vals.push_back(v);
    }
    try {
        update_all(fd, keys, vals, name);
    } catch (...) {
        close(fd);
        throw;
    }
    return fd;
}

void swap_inner(int outer, uint32_t slot, int inner, const char *what)
{
    int rc = bpf_map_update_elem(outer, &slot, &inner, BPF_ANY);
    int err = errno;
    close(inner);
    if (rc != 0)
        throw Error(std::string("cannot install ") + what + " in slot " + std::to_string(slot),
                    err);
}

uint32_t catalog_base(CatalogKind k)
{
    switch (k) {
    case CatalogKind::Node:
        return kCatalogNodes;
    case CatalogKind::Rule:
        return kCatalogRules;
    case CatalogKind::Role:
        return kCatalogRoles;
    }
    return 0;
}

uint32_t catalog_size(CatalogKind k)
{
    switch (k) {
    case CatalogKind::Node:
        return XI_MAX_NODES;
    case CatalogKind::Rule:
        return XI_MAX_RULE_SLOTS;
    case CatalogKind::Role:
        return XI_MAX_ROLES;
    }
    return 0;
}

} // namespace

GenMaps GenMaps::open_pinned(const std::string &dir)
{
    GenMaps m;
    m.owned_ = true;
    m.active = open_map(dir, XI_MAP_ACTIVE);
    m.gen_config = open_map(dir, XI_MAP_GEN_CONFIG);
    m.nodes = open_map(dir, XI_MAP_NODES);
    m.maglev = open_map(dir, XI_MAP_MAGLEV);
    m.vips = open_map(dir, XI_MAP_VIP_SLOTS);
    m.idents = open_map(dir, XI_MAP_IDENTS);
    m.rules = open_map(dir, XI_MAP_RULES);
    m.catalog = open_or_create_catalog(dir);
    return m;
}

GenMaps::GenMaps(GenMaps &&o) noexcept
    : active(o.active), gen_config(o.gen_config), nodes(o.nodes), maglev(o.maglev), vips(o.vips),
      idents(o.idents), rules(o.rules), catalog(o.catalog), owned_(o.owned_)
{
    o.owned_ = false;
}

GenMaps::~GenMaps()
{
    if (!owned_)
        return;
    for (int fd : {active, gen_config, nodes, maglev, vips, idents, rules, catalog})
        if (fd >= 0)
            close(fd);
}

ActiveGen read_active(const GenMaps &m)
{
    uint32_t zero = 0;
    xi_active a{};
    check(bpf_map_lookup_elem(m.active, &zero, &a), "cannot read xi_active");
    ActiveGen out{a.slot, a.generation};
    if (out.slot >= XI_GEN_SLOTS)
        out = {};
    return out;
}

namespace
{

// The running generation's inner map of an outer map, as a new fd (-1 if none).
int running_inner(int outer, uint32_t slot)
{
    uint32_t id = 0;
    if (bpf_map_lookup_elem(outer, &slot, &id) != 0 || !id)
        return -1;
    return bpf_map_get_fd_by_id(id);
}

} // namespace

void test_pause(const char *phase)
{
    const char *want = getenv("XI_TEST_PAUSE");
    if (!want || strcmp(want, phase) != 0)
        return;
    fprintf(stderr, "xi-test-pause %s pid=%d\n", phase, static_cast<int>(getpid()));
    fflush(stderr);
    for (;;)
        pause();
}

PublishResult publish_generation(const GenMaps &m, const GenContent &g,
                                 const std::array<std::string, 4> &running_digests,
                                 const std::function<void(uint32_t slot)> &before_flip)
{
    auto t0 = std::chrono::steady_clock::now();
    ActiveGen cur = read_active(m);
    // Before the first publish nothing is active: fill slot 0. After, always the other slot.
    uint32_t slot = cur.generation ? cur.slot ^ 1 : 0;
    PublishResult r;

    // Each table: the running one when unchanged, else a new inner map.
    auto install = [&](int outer, int table, const char *what, auto make) {
        if (cur.generation && !running_digests[table].empty() &&
            running_digests[table] == g.table_digests[table]) {
            int fd = running_inner(outer, cur.slot);
            if (fd >= 0) {
                swap_inner(outer, slot, fd, what);
                r.tables_reused++;
                return;
            }
        }
        swap_inner(outer, slot, make(), what);
    };
    install(m.maglev, kTableMaglev, "Maglev table", [&] {
        // Entries, then the fallback column (issue #14): a program that knows only the entries
        // reads the first table_size words, as before.
        auto words = maglev_words(g);
        std::vector<std::pair<uint32_t, uint32_t>> table;
        table.reserve(words.size());
        for (uint32_t i = 0; i < words.size(); i++)
            table.emplace_back(i, words[i]);
        return make_inner(BPF_MAP_TYPE_ARRAY, XI_MAP_MAGLEV_INNER,
                          static_cast<uint32_t>(words.size()), XI_MAGLEV_INNER_FLAGS, table);
    });
    // The arrays of the slot are written in place, so only after the first map-in-map update
    // above: the kernel waits for running programs on those (an RCU grace period), so no
    // packet that began while this slot was last active still reads it.
    std::vector<uint32_t> node_keys;
    for (uint32_t i = 0; i < XI_MAX_NODES; i++)
        node_keys.push_back(slot * XI_MAX_NODES + i);
    update_all(m.nodes, node_keys, g.nodes, XI_MAP_NODES);
    test_pause("mid-fill");
    // The VIP table is a plain array (inlined lookups): its slot's region is rewritten.
    std::vector<uint32_t> vip_keys;
    for (uint32_t i = 0; i < XI_VIP_TABLE_SLOTS; i++)
        vip_keys.push_back(slot * XI_VIP_TABLE_SLOTS + i);
    update_all(m.vips, vip_keys, g.vip_slots, XI_MAP_VIP_SLOTS);
    install(m.idents, kTableIdents, "identity table", [&] {
        return make_inner(BPF_MAP_TYPE_LPM_TRIE, XI_MAP_IDENTS_INNER, XI_LPM_INNER_MAX_ENTRIES,
                          XI_LPM_INNER_FLAGS, g.idents);
    });
    install(m.rules, kTableRules, "rule table", [&] {
        return make_inner(BPF_MAP_TYPE_LPM_TRIE, XI_MAP_RULES_INNER, XI_LPM_INNER_MAX_ENTRIES,
                          XI_LPM_INNER_FLAGS, g.rules);
    });
    check(bpf_map_update_elem(m.gen_config, &slot, &g.cfg, BPF_ANY), "cannot write xi_gen_config");
    auto t1 = std::chrono::steady_clock::now();
    test_pause("filled");
    if (before_flip)
        before_flip(slot);
    test_pause("recorded");

    // The switch: one array element; a packet reads the slot once and stays in it.
    uint32_t zero = 0;
    xi_active a{};
    a.slot = slot;
    a.generation = g.cfg.generation;
    check(bpf_map_update_elem(m.active, &zero, &a, BPF_ANY), "cannot write xi_active");
    test_pause("flipped");

    r.slot = slot;
    r.generation = g.cfg.generation;
    r.fill_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    return r;
}

std::vector<std::string> read_catalog(const GenMaps &m, CatalogKind kind)
{
    uint32_t base = catalog_base(kind), n = catalog_size(kind);
    std::vector<std::string> out(n);
    // One batch read of the region (16k rule names: one syscall instead of 16k).
    std::vector<uint32_t> keys(n);
    std::vector<CatalogName> vals(n);
    // The batch cursor is the key before the first one read (get_next_key semantics).
    uint32_t in_batch = base - 1, out_batch = 0, count = n;
    LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = 0, .flags = 0);
    int rc = bpf_map_lookup_batch(m.catalog, base ? &in_batch : nullptr, &out_batch, keys.data(),
                                  vals.data(), &count, &opts);
    if (rc == 0 || (errno == ENOENT && count > 0)) {
        for (uint32_t i = 0; i < count; i++)
            if (keys[i] >= base && keys[i] < base + n)
                out[keys[i] - base] = std::string(vals[i].name, strnlen(vals[i].name, kNameLen));
        if (count == n)
            return out;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t key = base + i;
        CatalogName name{};
        if (bpf_map_lookup_elem(m.catalog, &key, &name) == 0)
            out[i] = std::string(name.name, strnlen(name.name, kNameLen));
    }
    return out;
}

void write_catalog(const GenMaps &m, CatalogKind kind, const std::vector<std::string> &names)
{
    auto current = read_catalog(m, kind);
    for (uint32_t i = 0; i < catalog_size(kind); i++) {
        std::string want = i < names.size() ? names[i] : std::string();
        if (want.size() >= kNameLen)
            want.resize(kNameLen - 1);
        if (current[i] == want)
            continue; // only changed names are written: reloads stay cheap
        uint32_t key = catalog_base(kind) + i;
        CatalogName n{};
        std::memcpy(n.name, want.data(), want.size());
        check(bpf_map_update_elem(m.catalog, &key, &n, BPF_ANY), "cannot write xi_catalog");
    }
}

} // namespace xi
