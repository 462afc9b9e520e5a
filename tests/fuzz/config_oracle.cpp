#include "config_oracle.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <yaml-cpp/yaml.h>
#include <yaml.h>

#include <cstring>
#include <exception>
#include <set>
#include <vector>

#include "compile.h"
#include "config.h"

namespace xi::fuzz
{

namespace
{

// A libyaml document (its own composer, yaml_parser_load, not the loader's tree), read-only,
// with the lookups the comparison needs.
class Doc
{
public:
    static constexpr const char *kName = "libyaml";
    Doc(const uint8_t *data, size_t size)
    {
        yaml_parser_initialize(&parser_);
        yaml_parser_set_input_string(&parser_, data, size);
        loaded_ = yaml_parser_load(&parser_, &doc_) == 1;
        if (!loaded_) {
            context_ = parser_.context ? parser_.context : "";
            return;
        }
        yaml_document_t next;
        if (yaml_parser_load(&parser_, &next) == 1) {
            more_docs_ = yaml_document_get_root_node(&next) != nullptr;
            yaml_document_delete(&next);
        } else {
            more_docs_ = true; // a broken second document is still a second document
        }
    }
    ~Doc()
    {
        if (loaded_)
            yaml_document_delete(&doc_);
        yaml_parser_delete(&parser_);
    }
    Doc(const Doc &) = delete;
    Doc &operator=(const Doc &) = delete;

    bool loaded() const { return loaded_; }
    // Where libyaml gave up, e.g. "while scanning an anchor".
    const std::string &context() const { return context_; }
    bool more_docs() const { return more_docs_; }
    yaml_node_t *root() { return yaml_document_get_root_node(&doc_); }
    yaml_node_t *node(int id) { return yaml_document_get_node(&doc_, id); }

    static bool scalar(const yaml_node_t *n) { return n && n->type == YAML_SCALAR_NODE; }
    static std::string text(const yaml_node_t *n)
    {
        if (!scalar(n))
            return "<not a scalar>";
        return std::string(reinterpret_cast<const char *>(n->data.scalar.value),
                           n->data.scalar.length);
    }
    yaml_node_t *get(const yaml_node_t *map, const char *key)
    {
        if (!map || map->type != YAML_MAPPING_NODE)
            return nullptr;
        for (auto *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
            if (text(node(p->key)) == key)
                return node(p->value);
        return nullptr;
    }
    std::vector<yaml_node_t *> items(const yaml_node_t *seq)
    {
        std::vector<yaml_node_t *> out;
        if (seq && seq->type == YAML_SEQUENCE_NODE)
            for (auto *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top; i++)
                out.push_back(node(*i));
        return out;
    }
    std::vector<std::pair<yaml_node_t *, yaml_node_t *>> pairs(const yaml_node_t *map)
    {
        std::vector<std::pair<yaml_node_t *, yaml_node_t *>> out;
        if (map && map->type == YAML_MAPPING_NODE)
            for (auto *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
                out.emplace_back(node(p->key), node(p->value));
        return out;
    }
    // A key twice in some mapping (each node visited once: aliases share nodes).
    std::string duplicate_key()
    {
        std::set<const yaml_node_t *> seen;
        std::vector<yaml_node_t *> todo{root()};
        while (!todo.empty()) {
            yaml_node_t *n = todo.back();
            todo.pop_back();
            if (!n || !seen.insert(n).second)
                continue;
            if (n->type == YAML_SEQUENCE_NODE)
                for (auto *i : items(n))
                    todo.push_back(i);
            if (n->type == YAML_MAPPING_NODE) {
                std::set<std::string> keys;
                for (auto [k, v] : pairs(n)) {
                    if (scalar(k) && !keys.insert(text(k)).second)
                        return text(k);
                    todo.push_back(v);
                }
            }
        }
        return "";
    }

private:
    yaml_parser_t parser_{};
    yaml_document_t doc_{};
    bool loaded_ = false, more_docs_ = false;
    std::string context_;
};

// The same lookups over yaml-cpp's reading: a second, wholly independent YAML implementation
// (scanner, parser and composer), where Doc shares libyaml's scanner with the loader.
class CppDoc
{
public:
    static constexpr const char *kName = "yaml-cpp";
    CppDoc(const uint8_t *data, size_t size)
    {
        try {
            // Load, not LoadAll: LoadAll never returned on some inputs (the fuzzer's
            // timeout-b5f9f477); the second-document check is Doc's.
            root_ = YAML::Load(std::string(reinterpret_cast<const char *>(data), size));
            loaded_ = true;
        } catch (const YAML::Exception &e) {
            context_ = e.msg;
        }
    }
    bool loaded() const { return loaded_; }
    const std::string &context() const { return context_; }
    bool more_docs() const { return false; }
    YAML::Node root() const { return root_; }

    static std::string text(const YAML::Node &n)
    {
        return n && n.IsScalar() ? n.Scalar() : "<not a scalar>";
    }
    static YAML::Node get(const YAML::Node &map, const char *key)
    {
        if (!map || !map.IsMap())
            return YAML::Node(YAML::NodeType::Undefined);
        for (const auto &kv : map)
            if (kv.first.IsScalar() && kv.first.Scalar() == key)
                return kv.second;
        return YAML::Node(YAML::NodeType::Undefined);
    }
    static std::vector<YAML::Node> items(const YAML::Node &seq)
    {
        std::vector<YAML::Node> out;
        if (seq && seq.IsSequence())
            for (const auto &i : seq)
                out.push_back(i);
        return out;
    }
    static std::vector<std::pair<YAML::Node, YAML::Node>> pairs(const YAML::Node &map)
    {
        std::vector<std::pair<YAML::Node, YAML::Node>> out;
        if (map && map.IsMap())
            for (const auto &kv : map)
                out.emplace_back(kv.first, kv.second);
        return out;
    }
    std::string duplicate_key() const
    {
        std::vector<YAML::Node> todo{root_};
        while (!todo.empty()) {
            YAML::Node n = todo.back();
            todo.pop_back();
            if (n.IsSequence())
                for (const auto &i : n)
                    todo.push_back(i);
            if (n.IsMap()) {
                std::set<std::string> keys;
                for (const auto &kv : n) {
                    if (kv.first.IsScalar() && !keys.insert(kv.first.Scalar()).second)
                        return kv.first.Scalar();
                    todo.push_back(kv.second);
                }
            }
        }
        return "";
    }

private:
    YAML::Node root_;
    bool loaded_ = false;
    std::string context_;
};

// An address as libyaml's text says, read with inet_pton (not IpAddr::parse): 16 bytes, IPv4
// mapped as the maps store it.
bool same_addr(const std::string &text, const IpAddr &a)
{
    uint8_t b[16] = {};
    in_addr v4;
    if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
        b[10] = b[11] = 0xff;
        std::memcpy(b + 12, &v4, 4);
    } else if (inet_pton(AF_INET6, text.c_str(), b) != 1) {
        return false;
    }
    return std::memcmp(b, a.bytes.data(), 16) == 0;
}

template <typename D>
std::string compare(D &d, const Config &c)
{
    if (!d.loaded())
        return std::string(D::kName) + " cannot load a config the parser accepted: " + d.context();
    if (d.more_docs())
        return std::string(D::kName) + " sees a second document in an accepted config";
    if (auto k = d.duplicate_key(); !k.empty())
        return std::string(D::kName) + " sees the key '" + k +
               "' twice in one mapping of an accepted config";
    auto root = d.root();
    if (D::text(d.get(root, "version")) != "1")
        return "version differs";

    auto nodes = d.items(d.get(root, "nodes"));
    if (nodes.size() != c.nodes.size())
        return "node count differs";
    for (size_t i = 0; i < nodes.size(); i++) {
        const auto &n = c.nodes[i];
        if (D::text(d.get(nodes[i], "name")) != n.name)
            return "node " + std::to_string(i) + ": name differs";
        auto pub = d.get(nodes[i], "public_interface");
        if ((pub ? D::text(pub) : "") != n.public_if)
            return "node '" + n.name + "': public_interface differs";
        auto m4 = d.get(nodes[i], "mesh_ipv4"), m6 = d.get(nodes[i], "mesh_ipv6");
        if (bool(m4) != bool(n.mesh4) || (m4 && !same_addr(D::text(m4), *n.mesh4)))
            return "node '" + n.name + "': mesh_ipv4 differs";
        if (bool(m6) != bool(n.mesh6) || (m6 && !same_addr(D::text(m6), *n.mesh6)))
            return "node '" + n.name + "': mesh_ipv6 differs";
    }

    auto vips = d.items(d.get(root, "vips"));
    if (vips.size() != c.vips.size())
        return "vip count differs";
    for (size_t i = 0; i < vips.size(); i++) {
        const auto &v = c.vips[i];
        if (!same_addr(D::text(d.get(vips[i], "address")), v.addr))
            return "vip '" + v.name + "': address differs";
        std::string proto = D::text(d.get(vips[i], "protocol"));
        if ((proto == "tcp" ? IPPROTO_TCP : proto == "udp" ? IPPROTO_UDP : -1) != v.proto)
            return "vip '" + v.name + "': protocol differs";
        std::vector<uint16_t> ports;
        for (auto p : d.items(d.get(vips[i], "ports")))
            ports.push_back(static_cast<uint16_t>(std::stoul(D::text(p))));
        if (ports != v.ports)
            return "vip '" + v.name + "': ports differ";
    }

    auto ids = d.pairs(d.get(root, "identities"));
    if (ids.size() != c.identities.size())
        return "identity count differs";
    for (size_t i = 0; i < ids.size(); i++) {
        if (D::text(ids[i].first) != c.identities[i].name)
            return "identity " + std::to_string(i) + ": name differs";
        if (d.items(ids[i].second).size() != c.identities[i].prefixes.size())
            return "identity '" + c.identities[i].name + "': prefix count differs";
    }

    auto rules = d.items(d.get(root, "rules"));
    if (rules.size() != c.rules.size())
        return "rule count differs";
    for (size_t i = 0; i < rules.size(); i++) {
        const auto &r = c.rules[i];
        std::string action = D::text(d.get(rules[i], "action"));
        if ((action == "allow" ? Action::Allow : Action::Deny) != r.action ||
            (action != "allow" && action != "deny"))
            return "rule " + std::to_string(i) + ": action differs";
        if (D::text(d.get(rules[i], "from")) != r.from || D::text(d.get(rules[i], "to")) != r.to)
            return "rule " + std::to_string(i) + ": roles differ";
        if (auto name = d.get(rules[i], "name"); name && D::text(name) != r.name)
            return "rule " + std::to_string(i) + ": name differs";
    }

    auto dflt = d.get(root, "default");
    if ((D::text(d.get(dflt, "ingress")) == "allow") != c.default_ingress_allow ||
        (D::text(d.get(dflt, "egress")) == "allow") != c.default_egress_allow)
        return "default differs";
    return "";
}

} // namespace

std::string check_config_bytes(const uint8_t *data, size_t size)
{
    const std::string text(reinterpret_cast<const char *>(data), size);
    ConfigResult res;
    try {
        res = parse_config(text, "fuzz.yaml");
    } catch (const std::exception &e) {
        return std::string("parse_config threw: ") + e.what();
    }
    if (!res.config) {
        if (res.errors.empty())
            return "refused without an error";
        return "";
    }
    try {
        CompileInput in;
        in.config = &*res.config;
        in.node = res.config->nodes.front().name;
        compile_generation(in);
    } catch (const std::exception &) {
        // The compiler's own refusals (e.g. too many VIP entries to lay out) are errors the
        // user sees, like the parser's.
    }
    return oracle_disagrees(text, *res.config);
}

std::string oracle_disagrees(const std::string &text, const Config &c)
{
    const auto *bytes = reinterpret_cast<const uint8_t *>(text.data());
    try {
        Doc d(bytes, text.size());
        if (auto why = compare(d, c); !why.empty())
            return why;
        CppDoc cd(bytes, text.size());
        return compare(cd, c);
    } catch (const std::exception &e) {
        return std::string("the comparison threw: ") + e.what();
    }
}

} // namespace xi::fuzz
