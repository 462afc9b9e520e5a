// deploy/ stays true to the agent: every YAML and JSON file parses; every metric name the
// dashboard and the alerts use is one the agent exports, and every reason label one it counts;
// the dashboard shows every metric family; the DaemonSet and the systemd unit grant the same
// capabilities and wire the agent the way it needs (bpffs, host network, --node from the node
// name, ConfigMap as a directory, probes on /healthz on the metrics port); the fleet config in
// the ConfigMap passes the agent's own validation. Tools (promtool, systemd-analyze, exabgp,
// kustomize) are run by tests/deploy_check.sh.
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <yaml-cpp/yaml.h>

#include "caps.h"
#include "config.h"
#include "counters.h"
#include "metrics.h"

namespace fs = std::filesystem;

namespace xi
{
namespace
{

const fs::path kDeploy = fs::path(XI_SOURCE_DIR) / "deploy";

std::string slurp(const fs::path &p)
{
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<fs::path> files_with(const std::vector<std::string> &exts)
{
    std::vector<fs::path> out;
    for (const auto &e : fs::recursive_directory_iterator(kDeploy))
        if (e.is_regular_file() &&
            std::find(exts.begin(), exts.end(), e.path().extension().string()) != exts.end())
            out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

// Directive -> values of a systemd unit ([Section] headers and comments skipped).
std::multimap<std::string, std::string> unit_directives(const fs::path &p)
{
    std::multimap<std::string, std::string> out;
    std::istringstream in(slurp(p));
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#' || line[0] == '[')
            continue;
        auto eq = line.find('=');
        if (eq != std::string::npos)
            out.emplace(line.substr(0, eq), line.substr(eq + 1));
    }
    return out;
}

std::string one(const std::multimap<std::string, std::string> &d, const std::string &key)
{
    auto [b, e] = d.equal_range(key);
    std::string v;
    for (auto it = b; it != e; ++it)
        v += (v.empty() ? "" : " ") + it->second;
    return v;
}

std::set<std::string> words(const std::string &s)
{
    std::istringstream in(s);
    std::set<std::string> out;
    for (std::string w; in >> w;)
        out.insert(w);
    return out;
}

// Every PromQL expression of the dashboard (targets, annotations, variable queries).
void collect_exprs(const nlohmann::json &j, std::vector<std::string> &out)
{
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) {
            if ((it.key() == "expr" || it.key() == "definition") && it->is_string())
                out.push_back(it->get<std::string>());
            else if (it.key() == "query" && it->is_object() && it->contains("query"))
                out.push_back((*it)["query"].get<std::string>());
            else
                collect_exprs(*it, out);
        }
    } else if (j.is_array()) {
        for (const auto &v : j)
            collect_exprs(v, out);
    }
}

std::vector<std::string> alert_exprs()
{
    std::vector<std::string> out;
    for (const auto &g : YAML::LoadFile((kDeploy / "prometheus/alerts.yaml").string())["groups"])
        for (const auto &r : g["rules"])
            out.push_back(r["expr"].as<std::string>());
    return out;
}

std::vector<std::string> dashboard_exprs()
{
    std::vector<std::string> out;
    collect_exprs(nlohmann::json::parse(slurp(kDeploy / "grafana/xdp-ingress.json")), out);
    return out;
}

std::set<std::string> metric_refs(const std::vector<std::string> &exprs)
{
    static const std::regex name(R"(\bxdp_ingress_[A-Za-z0-9_:]*)");
    std::set<std::string> out;
    for (const auto &e : exprs)
        for (std::sregex_iterator it(e.begin(), e.end(), name), end; it != end; ++it)
            out.insert(it->str());
    return out;
}

// Values given to the reason label: reason="x", reason=~"x|y".
std::set<std::string> reason_refs(const std::vector<std::string> &exprs)
{
    static const std::regex sel(R"re(\breason\s*(=~|=)\s*"([^"]*)")re");
    std::set<std::string> out;
    for (const auto &e : exprs)
        for (std::sregex_iterator it(e.begin(), e.end(), sel), end; it != end; ++it) {
            std::stringstream alts((*it)[2].str());
            for (std::string a; std::getline(alts, a, '|');)
                out.insert(a);
        }
    return out;
}

TEST(Deploy, EveryYamlAndJsonFileParses)
{
    auto yamls = files_with({".yaml", ".yml"});
    auto jsons = files_with({".json"});
    EXPECT_GE(yamls.size(), 6u);
    EXPECT_GE(jsons.size(), 1u);
    for (const auto &p : yamls)
        EXPECT_NO_THROW(YAML::LoadAllFromFile(p.string())) << p;
    for (const auto &p : jsons)
        EXPECT_NO_THROW({
            auto j = nlohmann::json::parse(slurp(p));
            EXPECT_TRUE(j.is_object()) << p;
        }) << p;
}

TEST(Deploy, MetricNamesInDashboardAndAlertsExist)
{
    const auto &known = metric_names();
    std::set<std::string> exported(known.begin(), known.end());
    auto dash = metric_refs(dashboard_exprs());
    auto alerts = metric_refs(alert_exprs());
    EXPECT_FALSE(dash.empty());
    EXPECT_FALSE(alerts.empty());
    for (const auto &n : dash)
        EXPECT_TRUE(exported.count(n)) << "dashboard uses " << n << ", which the agent does not "
                                       << "export (loader/agent/metrics.cpp)";
    for (const auto &n : alerts)
        EXPECT_TRUE(exported.count(n)) << "alerts.yaml uses " << n << ", which the agent does "
                                       << "not export (loader/agent/metrics.cpp)";
    // ... and the dashboard shows every family the agent exports.
    for (const auto &n : exported)
        EXPECT_TRUE(dash.count(n)) << n << " is exported but not on the dashboard";
}

TEST(Deploy, ReasonLabelsInDashboardAndAlertsExist)
{
    std::set<std::string> labels;
    for (const auto &r : reasons())
        labels.insert(r.label);
    auto exprs = dashboard_exprs();
    auto more = alert_exprs();
    exprs.insert(exprs.end(), more.begin(), more.end());
    auto used = reason_refs(exprs);
    EXPECT_TRUE(used.count("mesh_mtu") && used.count("decap_unknown_source"));
    for (const auto &r : used)
        EXPECT_TRUE(labels.count(r)) << "reason \"" << r << "\" is not a stable reason label "
                                     << "(maps/xi_reasons.h)";
}

TEST(Deploy, FleetAlertsCompareHashesAcrossEdges)
{
    auto exprs = alert_exprs();
    auto has = [&](const std::string &s) {
        return std::any_of(exprs.begin(), exprs.end(),
                           [&](const std::string &e) { return e.find(s) != std::string::npos; });
    };
    EXPECT_TRUE(has("count(count by (config_sha256) (xdp_ingress_config_info)) > 1"));
    EXPECT_TRUE(has("count(count by (table_sha256) (xdp_ingress_config_info)) > 1"));
}

struct K8s {
    YAML::Node ds, cm, pod;
    std::vector<YAML::Node> containers; // init containers first
    K8s()
    {
        ds = YAML::LoadFile((kDeploy / "kubernetes/daemonset.yaml").string());
        cm = YAML::LoadFile((kDeploy / "kubernetes/configmap.yaml").string());
        pod = ds["spec"]["template"]["spec"];
        for (const auto &c : pod["initContainers"])
            containers.push_back(c);
        for (const auto &c : pod["containers"])
            containers.push_back(c);
    }
    YAML::Node volume(const std::string &name) const
    {
        for (const auto &v : pod["volumes"])
            if (v["name"].as<std::string>() == name)
                return v;
        return {};
    }
    YAML::Node agent() const { return pod["containers"][0]; }
};

std::vector<std::string> args_of(const YAML::Node &c)
{
    std::vector<std::string> out;
    for (const auto &a : c["args"])
        out.push_back(a.as<std::string>());
    return out;
}

// --flag=value or --flag value
std::string arg_value(const std::vector<std::string> &args, const std::string &flag)
{
    for (size_t i = 0; i < args.size(); i++) {
        if (args[i].rfind(flag + "=", 0) == 0)
            return args[i].substr(flag.size() + 1);
        if (args[i] == flag && i + 1 < args.size())
            return args[i + 1];
    }
    return {};
}

TEST(DeployKubernetes, HostNetworkBpffsAndNodeName)
{
    K8s k;
    ASSERT_EQ(k.ds["kind"].as<std::string>(), "DaemonSet");
    EXPECT_TRUE(k.pod["hostNetwork"].as<bool>());
    auto bpffs = k.volume("bpffs");
    ASSERT_TRUE(bpffs) << "no volume named bpffs";
    EXPECT_EQ(bpffs["hostPath"]["path"].as<std::string>(), "/sys/fs/bpf");
    ASSERT_EQ(k.containers.size(), 2u) << "init container (attach --replace) + agent";
    for (const auto &c : k.containers) {
        std::string name = c["name"].as<std::string>();
        bool mounted = false;
        for (const auto &m : c["volumeMounts"])
            if (m["name"].as<std::string>() == "bpffs")
                mounted = m["mountPath"].as<std::string>() == "/sys/fs/bpf";
        EXPECT_TRUE(mounted) << name << " does not mount the host bpffs at /sys/fs/bpf";
        // --node from the downward API's spec.nodeName.
        auto args = args_of(c);
        EXPECT_EQ(arg_value(args, "--node"), "$(NODE_NAME)") << name;
        bool from_node_name = false;
        for (const auto &e : c["env"])
            if (e["name"].as<std::string>() == "NODE_NAME")
                from_node_name =
                    e["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>() == "spec.nodeName";
        EXPECT_TRUE(from_node_name) << name << ": NODE_NAME must come from spec.nodeName";
    }
    auto init = args_of(k.containers[0]);
    ASSERT_FALSE(init.empty());
    EXPECT_EQ(init[0], "attach");
    EXPECT_NE(std::find(init.begin(), init.end(), "--replace"), init.end());
    EXPECT_EQ(args_of(k.agent())[0], "serve");
}

TEST(DeployKubernetes, ConfigMapMountedAsDirectoryWithAValidFleetConfig)
{
    K8s k;
    auto vol = k.volume("fleet-config");
    ASSERT_TRUE(vol);
    std::string cm_name = vol["configMap"]["name"].as<std::string>();
    EXPECT_EQ(k.cm["metadata"]["name"].as<std::string>(), cm_name);
    for (const auto &c : k.containers) {
        std::string config = arg_value(args_of(c), "--config");
        ASSERT_FALSE(config.empty()) << c["name"];
        bool found = false;
        for (const auto &m : c["volumeMounts"]) {
            if (m["name"].as<std::string>() != "fleet-config")
                continue;
            found = true;
            // subPath bind-mounts the file as it was at pod start: updates never arrive.
            EXPECT_FALSE(m["subPath"]) << c["name"] << ": ConfigMap mounted with subPath";
            EXPECT_FALSE(m["subPathExpr"]) << c["name"];
            EXPECT_EQ(fs::path(config).parent_path().string(), m["mountPath"].as<std::string>())
                << c["name"] << ": --config must be a file directly in the mounted directory";
            std::string key = fs::path(config).filename().string();
            ASSERT_TRUE(k.cm["data"][key]) << "ConfigMap has no key " << key;
        }
        EXPECT_TRUE(found) << c["name"] << " does not mount the ConfigMap";
    }
    // The agent's own validation accepts the fleet config the ConfigMap ships.
    auto res = parse_config(k.cm["data"]["fleet.yaml"].as<std::string>(), "configmap fleet.yaml");
    EXPECT_TRUE(res.errors.empty()) << res.errors[0].str();
    // The name must not change with the content (hot reload instead of a rollout).
    auto kust = YAML::LoadFile((kDeploy / "kubernetes/kustomization.yaml").string());
    EXPECT_TRUE(kust["generatorOptions"]["disableNameSuffixHash"].as<bool>());
    for (const auto &r : kust["resources"])
        EXPECT_TRUE(fs::exists(kDeploy / "kubernetes" / r.as<std::string>())) << r;
}

TEST(DeployKubernetes, ProbesOnHealthzOfTheMetricsPort)
{
    K8s k;
    auto agent = k.agent();
    std::string addr = arg_value(args_of(agent), "--metrics-addr");
    ASSERT_FALSE(addr.empty());
    int listen_port = std::stoi(addr.substr(addr.rfind(':') + 1));
    std::string port_name;
    for (const auto &p : agent["ports"])
        if (p["containerPort"].as<int>() == listen_port)
            port_name = p["name"].as<std::string>();
    ASSERT_FALSE(port_name.empty()) << "no container port for --metrics-addr " << addr;
    for (const char *probe : {"startupProbe", "readinessProbe", "livenessProbe"}) {
        auto get = agent[probe]["httpGet"];
        ASSERT_TRUE(get) << probe;
        std::string path = get["path"].as<std::string>();
        EXPECT_EQ(path.substr(0, path.find('?')), "/healthz") << probe;
        std::string port = get["port"].as<std::string>();
        EXPECT_TRUE(port == port_name || port == std::to_string(listen_port)) << probe;
    }
    EXPECT_EQ(agent["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz?strict=1");
    EXPECT_EQ(agent["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz");
    auto ann = k.ds["spec"]["template"]["metadata"]["annotations"];
    EXPECT_EQ(ann["prometheus.io/port"].as<std::string>(), std::to_string(listen_port));
}

TEST(DeployKubernetes, CapabilitiesMatchTheSystemdUnit)
{
    K8s k;
    auto unit = unit_directives(kDeploy / "systemd/xdp-ingress.service");
    std::set<std::string> want;
    for (const auto &c : words(one(unit, "CapabilityBoundingSet")))
        want.insert(c.substr(c.rfind("CAP_", 0) == 0 ? 4 : 0));
    EXPECT_EQ(want, (std::set<std::string>{"BPF", "NET_ADMIN", "PERFMON"}));
    for (const auto &c : k.containers) {
        auto sc = c["securityContext"];
        std::set<std::string> add, drop;
        for (const auto &a : sc["capabilities"]["add"])
            add.insert(a.as<std::string>());
        for (const auto &d : sc["capabilities"]["drop"])
            drop.insert(d.as<std::string>());
        EXPECT_EQ(add, want) << c["name"];
        EXPECT_EQ(drop, std::set<std::string>{"ALL"}) << c["name"];
        EXPECT_FALSE(sc["privileged"].as<bool>()) << c["name"];
        EXPECT_FALSE(sc["allowPrivilegeEscalation"].as<bool>()) << c["name"];
    }
}

TEST(DeploySystemd, UnitRunsServeWithTheDocumentedContract)
{
    auto d = unit_directives(kDeploy / "systemd/xdp-ingress.service");
    EXPECT_NE(one(d, "ExecStart").find("xdp-ingress serve "), std::string::npos);
    EXPECT_NE(one(d, "ExecStartPre").find("xdp-ingress attach --replace "), std::string::npos);
    EXPECT_NE(one(d, "ExecReload").find("kill -HUP $MAINPID"), std::string::npos);
    EXPECT_EQ(one(d, "KillSignal"), "SIGTERM");
    EXPECT_EQ(one(d, "Restart"), "on-failure");
    EXPECT_EQ(one(d, "NoNewPrivileges"), "yes");
    EXPECT_EQ(one(d, "ProtectSystem"), "strict");
    auto rw = words(one(d, "ReadWritePaths"));
    EXPECT_TRUE(rw.count("/sys/fs/bpf"));
    auto fam = words(one(d, "RestrictAddressFamilies"));
    for (const char *f : {"AF_NETLINK", "AF_INET", "AF_INET6", "AF_UNIX"})
        EXPECT_TRUE(fam.count(f)) << f;
    EXPECT_TRUE(words(one(d, "SystemCallFilter")).count("bpf"));
    EXPECT_FALSE(words(one(d, "CapabilityBoundingSet")).count("CAP_SYS_ADMIN"));
    // The environment file documents every variable the unit uses.
    auto env = slurp(kDeploy / "systemd/xdp-ingress.env");
    for (const char *v : {"XDP_INGRESS_CONFIG=", "XDP_INGRESS_METRICS_ADDR=", "XDP_INGRESS_ARGS=",
                          "XDP_INGRESS_SERVE_ARGS="})
        EXPECT_NE(env.find(v), std::string::npos) << v;
}

TEST(DeployCapabilities, MissingOnesAreNamed)
{
    auto bit = [](int c) { return uint64_t(1) << c; };
    const uint64_t bpf = bit(39), perfmon = bit(38), net_admin = bit(12), sys_admin = bit(21);
    EXPECT_TRUE(missing_datapath_capabilities(bpf | perfmon | net_admin).empty());
    EXPECT_TRUE(missing_datapath_capabilities(sys_admin | net_admin).empty())
        << "CAP_SYS_ADMIN implies CAP_BPF and CAP_PERFMON";
    EXPECT_EQ(missing_datapath_capabilities(bpf | net_admin),
              std::vector<std::string>{"CAP_PERFMON"});
    EXPECT_EQ(missing_datapath_capabilities(0),
              (std::vector<std::string>{"CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON"}));
    EXPECT_EQ(missing_datapath_capabilities(sys_admin), std::vector<std::string>{"CAP_NET_ADMIN"});
}

} // namespace
} // namespace xi
