#include "sysctl.h"

#include <fstream>

#include "error.h"

namespace xi
{

static std::string sysctl_path(std::string key)
{
    // Interface names may contain '.', so only the fixed prefix is converted.
    const std::string prefix = "net.ipv4.conf.";
    std::string path = "/proc/sys/";
    if (key.rfind(prefix, 0) == 0) {
        auto rest = key.substr(prefix.size());
        auto dot = rest.rfind('.');
        return path + "net/ipv4/conf/" + rest.substr(0, dot) + "/" + rest.substr(dot + 1);
    }
    for (auto &c : key)
        if (c == '.')
            c = '/';
    return path + key;
}

std::string read_sysctl(const std::string &key)
{
    std::ifstream in(sysctl_path(key));
    std::string v;
    std::getline(in, v);
    return v;
}

void write_sysctl(const std::string &key, const std::string &value)
{
    std::ofstream out(sysctl_path(key));
    out << value << "\n";
    out.flush();
    if (!out)
        throw Error("cannot set " + key + "=" + value, errno);
}

std::vector<SysctlChange> ensure_loose_rp_filter(const std::string &ifname, bool fix)
{
    std::string all = read_sysctl("net.ipv4.conf.all.rp_filter");
    std::string key = "net.ipv4.conf." + ifname + ".rp_filter";
    std::string dev = read_sysctl(key);
    int effective = std::max(all.empty() ? 0 : std::stoi(all), dev.empty() ? 0 : std::stoi(dev));
    if (effective != 1)
        return {};
    if (!fix)
        throw Error("strict reverse-path filtering on " + ifname + " (" + key + "=" + dev +
                        ", net.ipv4.conf.all.rp_filter=" + all + ")",
                    0, "decapsulated client packets would be dropped; set " + key + "=2");
    try {
        write_sysctl(key, "2");
    } catch (const Error &e) {
        // Containers get /proc/sys read-only; a sandboxed unit may too.
        throw Error(e.what(), e.err(),
                    "set it on the host instead (/etc/sysctl.d: " + key +
                        " = 2, see deploy/sysctl/), or make /proc/sys/net/ipv4/conf writable");
    }
    return {{key, dev, "2"}};
}

} // namespace xi
