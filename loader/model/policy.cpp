#include "policy.h"

#include <algorithm>
#include <map>
#include <unordered_set>
#include <netinet/in.h>
#include <set>
#include <tuple>

#include "slots.h"
#include "config_check.h"

namespace xi
{

namespace
{

std::string proto_name(int proto)
{
    switch (proto) {
    case IPPROTO_TCP:
        return "tcp";
    case IPPROTO_UDP:
        return "udp";
    case IPPROTO_ICMP:
        return "icmp";
    default:
        return "any";
    }
}

uint32_t port_count(const RuleCfg &r)
{
    if (r.ports.empty())
        return 65536;
    // Overlapping ranges inside one rule count once.
    std::vector<PortRange> v = r.ports;
    std::sort(v.begin(), v.end());
    uint32_t n = 0;
    int32_t end = -1;
    for (const auto &p : v) {
        int32_t lo = std::max<int32_t>(p.lo, end + 1);
        if (p.hi >= lo)
            n += p.hi - lo + 1;
        end = std::max<int32_t>(end, p.hi);
    }
    return n;
}

// Precedence inside one role pair: true if a beats b (na, nb: their port counts).
bool beats(const RuleCfg &a, size_t ia, uint32_t na, const RuleCfg &b, size_t ib, uint32_t nb)
{
    bool a_specific = a.proto >= 0, b_specific = b.proto >= 0;
    if (a_specific != b_specific)
        return a_specific;
    if (na != nb)
        return na < nb;
    if (a.action != b.action)
        return a.action == Action::Deny;
    return ia < ib;
}

struct Cell {
    int proto;       // -1 = any protocol
    uint16_t lo, hi; // port interval (0..65535 for protocols without ports)
    size_t winner;   // rule index
};

// Resolve one role pair into disjoint cells with their winning rule: a sweep over the port
// bounds with the active rules ordered by precedence, O(R log R) for R rules (a scan of every
// rule per interval took 10 s for 16,384 rules in one pair).
std::vector<Cell> resolve_pair(const Config &c, const std::vector<size_t> &rules)
{
    std::vector<Cell> cells;
    std::map<int, std::vector<size_t>> by_proto;
    for (auto i : rules)
        by_proto[c.rules[i].proto].push_back(i);
    for (const auto &group : by_proto) {
        const int proto = group.first;
        const std::vector<size_t> &rs = group.second; // not a structured binding: lambdas use it
        // Precedence rank of each rule: 0 beats everything.
        std::vector<uint32_t> count(rs.size());
        for (size_t k = 0; k < rs.size(); k++)
            count[k] = port_count(c.rules[rs[k]]);
        std::vector<size_t> order(rs.size());
        for (size_t k = 0; k < order.size(); k++)
            order[k] = k;
        std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
            return beats(c.rules[rs[x]], rs[x], count[x], c.rules[rs[y]], rs[y], count[y]);
        });
        std::vector<size_t> rank(rs.size());
        for (size_t r = 0; r < order.size(); r++)
            rank[order[r]] = r;
        // (port, +1 start / -1 end, k): every range of every rule; no ports = all ports, and
        // protocols without ports (icmp, any) are all one interval.
        bool ported = proto == IPPROTO_TCP || proto == IPPROTO_UDP;
        std::vector<std::tuple<uint32_t, int, size_t>> events;
        for (size_t k = 0; k < rs.size(); k++) {
            const auto &r = c.rules[rs[k]];
            if (!ported || r.ports.empty()) {
                events.emplace_back(0, 1, k);
                events.emplace_back(65536, -1, k);
                continue;
            }
            for (const auto &p : r.ports) {
                events.emplace_back(p.lo, 1, k);
                events.emplace_back(uint32_t(p.hi) + 1, -1, k);
            }
        }
        std::sort(events.begin(), events.end());
        std::map<size_t, int> active; // rank -> how many of that rule's ranges cover here
        size_t e = 0;
        while (e < events.size()) {
            uint32_t lo = std::get<0>(events[e]);
            for (; e < events.size() && std::get<0>(events[e]) == lo; e++) {
                auto [port, delta, k] = events[e];
                if ((active[rank[k]] += delta) == 0)
                    active.erase(rank[k]);
            }
            if (e == events.size() || active.empty())
                continue;
            uint32_t hi = std::get<0>(events[e]) - 1;
            size_t best = rs[order[active.begin()->first]];
            if (!cells.empty() && cells.back().proto == proto && cells.back().winner == best &&
                cells.back().hi + 1u == lo)
                cells.back().hi = static_cast<uint16_t>(hi);
            else
                cells.push_back({proto, uint16_t(lo), uint16_t(hi), best});
        }
    }
    return cells;
}

using PairKey = std::pair<uint16_t, uint16_t>;

std::map<PairKey, std::vector<size_t>> group_by_pair(const Config &c)
{
    std::map<std::string, uint16_t> ids;
    for (const std::string name : {"world", "any"})
        ids[name] = role_id(c, name);
    for (size_t i = 0; i < c.identities.size(); i++)
        ids.try_emplace(c.identities[i].name, role_of_identity(i));
    auto id = [&](const std::string &n) {
        auto it = ids.find(n);
        return it == ids.end() ? XI_ROLE_WORLD : it->second;
    };
    std::map<PairKey, std::vector<size_t>> pairs;
    for (size_t i = 0; i < c.rules.size(); i++)
        pairs[{id(c.rules[i].from), id(c.rules[i].to)}].push_back(i);
    return pairs;
}

// What a rule matches inside its role pair: protocol and sorted ports. Rules with equal
// matches are twins (a conflict, or a rule shadowed by an earlier one).
using Match = std::pair<int, std::vector<PortRange>>;
Match match_of(const RuleCfg &r)
{
    std::vector<PortRange> v = r.ports;
    std::sort(v.begin(), v.end());
    return {r.proto, v};
}

} // namespace

uint16_t role_id(const Config &c, const std::string &role)
{
    if (role == "world")
        return XI_ROLE_WORLD;
    if (role == "any")
        return XI_ROLE_ANY;
    for (size_t i = 0; i < c.identities.size(); i++)
        if (c.identities[i].name == role)
            return role_of_identity(i);
    return XI_ROLE_WORLD;
}

std::vector<std::pair<uint16_t, int>> port_range_prefixes(uint16_t lo, uint16_t hi)
{
    std::vector<std::pair<uint16_t, int>> out;
    uint32_t cur = lo, end = uint32_t(hi) + 1;
    while (cur < end) {
        int size_bits = 0; // largest aligned block starting at cur that fits
        while (size_bits < 16 && (cur & ((1u << (size_bits + 1)) - 1)) == 0 &&
               cur + (1u << (size_bits + 1)) <= end)
            size_bits++;
        out.emplace_back(static_cast<uint16_t>(cur), 16 - size_bits);
        cur += 1u << size_bits;
    }
    return out;
}

namespace
{

// One role pair's rules (positions idx in c.rules): conflicting twins, unreachable rules.
void check_pair(const Config &c, const std::vector<size_t> &idx, std::vector<ConfigError> &errors)
{
    std::set<size_t> winners, conflicted;
    for (const auto &cell : resolve_pair(c, idx))
        winners.insert(cell.winner);
    // Twins: for each rule, the first earlier rule of the pair with the same match, and the
    // first earlier one with the same match and the opposite action (positions in idx).
    constexpr size_t kNone = SIZE_MAX;
    struct Firsts {
        size_t any = kNone, allow = kNone, deny = kNone;
    };
    std::map<Match, Firsts> seen;
    std::vector<size_t> twin_of(idx.size()), opposite_of(idx.size());
    for (size_t k = 0; k < idx.size(); k++) {
        const auto &r = c.rules[idx[k]];
        auto &f = seen[match_of(r)];
        twin_of[k] = f.any;
        opposite_of[k] = r.action == Action::Allow ? f.deny : f.allow;
        if (f.any == kNone)
            f.any = k;
        auto &mine = r.action == Action::Allow ? f.allow : f.deny;
        if (mine == kNone)
            mine = k;
    }
    // Opposite actions on the same match: one error naming both, not an "unreachable" too.
    for (size_t k = 0; k < idx.size(); k++)
        if (size_t m = opposite_of[k]; m != kNone) {
            const auto &r = c.rules[idx[k]], &twin = c.rules[idx[m]];
            errors.push_back({c.path, r.pos,
                              "rule '" + r.name + "' and rule '" + twin.name + "' (line " +
                                  std::to_string(twin.pos.line) +
                                  ") match the same traffic with opposite actions"});
            conflicted.insert(idx[k]);
            conflicted.insert(idx[m]);
        }
    for (size_t k = 0; k < idx.size(); k++) {
        size_t i = idx[k];
        const auto &r = c.rules[i];
        if (winners.count(i) || conflicted.count(i))
            continue;
        const RuleCfg *twin = twin_of[k] == kNone ? nullptr : &c.rules[idx[twin_of[k]]];
        std::string by =
            twin ? "rule '" + twin->name + "' (line " + std::to_string(twin->pos.line) + ")"
                 : "more specific or earlier rules";
        errors.push_back(
            {c.path, r.pos,
             "rule '" + r.name + "' is unreachable: every packet it matches is decided by " + by});
    }
}

} // namespace

void check_policy(Config &c, std::vector<ConfigError> &errors)
{
    std::map<std::string, Pos> names;
    std::map<int, int> rules_on_line;
    for (const auto &r : c.rules)
        rules_on_line[r.pos.line]++;
    std::unordered_set<std::string_view> roles;
    for (const auto &id : c.identities)
        roles.insert(id.name);
    bool refs_ok = true;
    for (auto &r : c.rules) {
        if (r.named && !valid_name(r.name))
            errors.push_back({c.path, r.pos,
                              "rule name '" + r.name +
                                  "' must be 1-63 characters of letters, digits, '-', '_', '.'"});
        for (const auto *role : {&r.from, &r.to})
            if (*role != "world" && *role != "any" && !roles.count(*role)) {
                errors.push_back(
                    {c.path, r.pos,
                     "rule refers to unknown role '" + *role + "' (an identity, world or any)"});
                refs_ok = false;
            }
        // The line alone, as ever (counter and event labels stay put across upgrades); the
        // column too where a flow-style list puts several rules on one line.
        if (!r.named)
            r.name = r.from + "->" + r.to + "/" + proto_name(r.proto) + "@" +
                     std::to_string(r.pos.line) +
                     (rules_on_line[r.pos.line] > 1 ? ":" + std::to_string(r.pos.col) : "");
        auto [it, fresh] = names.emplace(r.name, r.pos);
        if (!fresh)
            errors.push_back({c.path, r.pos,
                              "duplicate rule name '" + r.name + "' (first at line " +
                                  std::to_string(it->second.line) + ")"});
    }
    // A reply-only role opens nothing, whatever a rule says: such a rule would be dead config
    // that reads as if it allowed something.
    for (const auto &r : c.rules)
        if (std::find(c.reply_only.begin(), c.reply_only.end(), r.from) != c.reply_only.end())
            errors.push_back({c.path, r.pos,
                              "rule '" + r.name + "' never applies: '" + r.from +
                                  "' is reply_only, it may only answer connections opened "
                                  "towards it"});
    if (c.rules.size() > XI_MAX_RULE_SLOTS)
        errors.push_back({c.path,
                          {},
                          "too many rules: " + std::to_string(c.rules.size()) + " (at most " +
                              std::to_string(XI_MAX_RULE_SLOTS) + ")"});
    if (!refs_ok)
        return;

    for (const auto &[pair, idx] : group_by_pair(c))
        check_pair(c, idx, errors);
}

void compile_rules(const Config &c, const std::vector<std::string> &prev_slots,
                   std::vector<std::pair<xi_rule_key, xi_rule>> &entries,
                   std::vector<std::string> &slot_names)
{
    std::vector<std::string> names;
    for (const auto &r : c.rules)
        names.push_back(r.name);
    slot_names = assign_slots(names, prev_slots, XI_MAX_RULE_SLOTS);
    std::map<std::string, uint16_t> slot_of;
    for (size_t s = 0; s < slot_names.size(); s++)
        if (!slot_names[s].empty())
            slot_of[slot_names[s]] = static_cast<uint16_t>(s);

    for (const auto &[pair, idx] : group_by_pair(c)) {
        for (const auto &cell : resolve_pair(c, idx)) {
            const auto &r = c.rules[cell.winner];
            xi_rule val{slot_of[r.name], static_cast<uint8_t>(r.action), 0};
            xi_rule_key key{};
            key.src_role = pair.first;
            key.dst_role = pair.second;
            if (cell.proto < 0) {
                key.prefixlen = XI_RULE_PREFIX_ROLES;
                entries.emplace_back(key, val);
                continue;
            }
            key.proto = static_cast<uint8_t>(cell.proto);
            if (cell.lo == 0 && cell.hi == 65535) {
                key.prefixlen = XI_RULE_PREFIX_PROTO;
                entries.emplace_back(key, val);
                if (cell.proto == IPPROTO_ICMP) { // ICMPv6 carries its own protocol number
                    key.proto = IPPROTO_ICMPV6;
                    entries.emplace_back(key, val);
                }
                continue;
            }
            for (auto [port, bits] : port_range_prefixes(cell.lo, cell.hi)) {
                key.prefixlen = XI_RULE_PREFIX_PROTO + bits;
                key.port[0] = port >> 8;
                key.port[1] = port & 0xff;
                entries.emplace_back(key, val);
            }
        }
    }
}

} // namespace xi
