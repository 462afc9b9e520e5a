// The typed readers of the config's YAML tree (config_yaml.cpp walks the tree with them): each
// reads one scalar or list into a value, or records an error at the node's line:col and returns
// nothing, so a policy author sees every problem of a file in one run.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config.h"
#include "netaddr.h"
#include "yaml_doc.h"

namespace xi
{

class Reader
{
public:
    Reader(std::string file, std::vector<ConfigError> &errors)
        : file_(std::move(file)), errors_(errors)
    {
    }

    void error(const yaml::Node &n, const std::string &msg);
    void error(Pos p, const std::string &msg) { errors_.push_back({file_, p, msg}); }

    // Every key of a mapping must be known; reports the unknown ones at their own position.
    bool mapping(const yaml::Node &n, const std::string &what, const std::set<std::string> &known);

    // Control characters are refused in every string: a NUL would cut the value short where C
    // APIs read it ("lo\0evil" attaching to lo), escapes and newlines would forge log lines.
    std::optional<std::string> str(const yaml::Node &n, const std::string &what);

    // Unsigned integer in [lo, hi]; accepts decimal and 0x-prefixed hex.
    std::optional<uint64_t> uint(const yaml::Node &n, const std::string &what, uint64_t lo,
                                 uint64_t hi);

    std::optional<bool> boolean(const yaml::Node &n, const std::string &what);

    std::optional<IpAddr> address(const yaml::Node &n, const std::string &what);

    std::optional<PrefixCfg> prefix(const yaml::Node &n, const std::string &what);

    // An empty list is an error everywhere: somewhere it would mean "everything" (ports: [] on
    // an allow rule), elsewhere nothing, and the file cannot say which was meant.
    template <typename F>
    void sequence(const yaml::Node &n, const std::string &what, F each,
                  const char *empty_hint = "remove the key or list something")
    {
        if (!n.is_sequence()) {
            error(n, what + " must be a list");
            return;
        }
        if (n.size() == 0) {
            error(n, what + " is an empty list: " + empty_hint);
            return;
        }
        for (size_t i = 0; i < n.size(); i++)
            each(n.item(i));
    }

    std::optional<bool> allow_deny(const yaml::Node &n, const std::string &what);

    // "80", 80, "8000-8080" -> range; 1..65535.
    std::optional<PortRange> port_range(const yaml::Node &n, const std::string &what);

private:
    std::string file_;
    std::vector<ConfigError> &errors_;
};

} // namespace xi
