// Regression tests of issue #10 ("hostile config"): configs the parser used to accept although
// they meant something other than what they said. One test per finding, with its exact input.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "base_config.h"
#include "compile.h"
#include "config.h"

namespace xi
{
namespace
{

using xi::test::kBase;

std::string with(std::string s, const std::string &from, const std::string &to)
{
    auto pos = s.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    return pos == std::string::npos ? s : s.replace(pos, from.size(), to);
}

std::vector<std::string> errors_of(const std::string &text)
{
    std::vector<std::string> out;
    for (const auto &e : parse_config(text, "h.yaml").errors)
        out.push_back(e.str());
    return out;
}

std::string first_error(const std::string &text)
{
    auto e = errors_of(text);
    return e.empty() ? "" : e[0];
}

#define EXPECT_REFUSED(text, needle)                                                               \
    do {                                                                                           \
        auto e_ = first_error(text);                                                               \
        EXPECT_NE(e_.find(needle), std::string::npos) << "error: '" << e_ << "'";                  \
    } while (0)

// ---- 1. IPv4-mapped aliasing ------------------------------------------------------------

TEST(HostileConfig, MappedPrefixWouldAliasAnIpv4Role)
{
    auto e =
        first_error(with(kBase, "  apps: [10.201.0.0/24]\n",
                         "  apps: [10.201.0.0/24]\n  attackers: [\"::ffff:10.201.0.0/120\"]\n"));
    EXPECT_EQ(e, "h.yaml:21:15: identity 'attackers': '::ffff:10.201.0.0/120' is an IPv4-mapped "
                 "IPv6 form, which the datapath cannot tell from IPv4 10.201.0.0/24: write "
                 "10.201.0.0/24");
}

TEST(HostileConfig, MappedMeshAddressWouldShareANodesAddress)
{
    EXPECT_REFUSED(with(kBase, "    mesh_ipv4: 10.200.0.2\n",
                        "    mesh_ipv4: 10.200.0.2\n    mesh_ipv6: \"::ffff:10.201.0.1\"\n"),
                   "mesh_ipv6: '::ffff:10.201.0.1' is an IPv4-mapped IPv6 form");
}

TEST(HostileConfig, MappedVipWouldTakeAnotherVipsPort)
{
    auto text = with(kBase, "identities:",
                     "  - name: shadow\n    address: \"::ffff:198.51.100.10\"\n    protocol: "
                     "tcp\n    ports: [80]\nidentities:");
    EXPECT_REFUSED(text, "vip address: '::ffff:198.51.100.10' is an IPv4-mapped IPv6 form");
}

TEST(HostileConfig, Ipv4CompatibleFormIsRefused)
{
    EXPECT_REFUSED(
        with(kBase, "apps: [10.201.0.0/24]", "apps: [10.201.0.0/24, \"::10.9.0.0/112\"]"),
        "deprecated IPv4-compatible IPv6 form: write 10.9.0.0/16");
    // ::1 and :: stay what they are (refused elsewhere as a mesh address or VIP).
    auto ok = errors_of(with(kBase, "apps: [10.201.0.0/24]", "apps: [10.201.0.0/24, \"::1\"]"));
    EXPECT_TRUE(ok.empty()) << ok[0];
}

// The role the datapath's LPM lookup finds for addr (16 bytes as the maps key it).
uint16_t lpm_role(const GenContent &g, const IpAddr &a)
{
    uint32_t best = 0;
    uint16_t role = XI_ROLE_WORLD;
    bool found = false;
    for (const auto &[k, v] : g.idents) {
        bool match = true;
        for (uint32_t i = 0; i < k.prefixlen && match; i++) {
            auto bit = [&](const uint8_t *b) { return (b[i / 8] >> (7 - i % 8)) & 1; };
            match = bit(reinterpret_cast<const uint8_t *>(&k.addr)) == bit(a.bytes.data());
        }
        if (match && (!found || k.prefixlen > best)) {
            best = k.prefixlen;
            role = v.role;
            found = true;
        }
    }
    return role;
}

TEST(HostileConfig, ShortIpv6PrefixesDoNotCaptureIpv4)
{
    // ::/0 spans ::ffff:0:0/96, where IPv4 is keyed: without the compiler's IPv4 /0 entry every
    // IPv4 address outside the IPv4 identities would get the IPv6 role.
    for (const char *six : {"::/0", "::/64", "::/80"}) {
        auto text = with(kBase, "  apps: [10.201.0.0/24]\n",
                         std::string("  apps: [10.201.0.0/24]\n  v6world: [\"") + six + "\"]\n");
        auto res = parse_config(text, "h.yaml");
        ASSERT_TRUE(res.errors.empty()) << six << ": " << res.errors[0].str();
        CompileInput in;
        in.config = &*res.config;
        in.node = "edge-a";
        auto g = compile_generation(in);
        EXPECT_EQ(lpm_role(g, *IpAddr::parse("203.0.113.9")), XI_ROLE_WORLD) << six;
        EXPECT_NE(lpm_role(g, *IpAddr::parse("10.201.0.7")), XI_ROLE_WORLD) << six;
        EXPECT_NE(lpm_role(g, *IpAddr::parse("::5")), XI_ROLE_WORLD) << six;
    }
    // IPv4 identities keep their addresses.
    auto text = with(kBase, "  apps: [10.201.0.0/24]\n",
                     "  apps: [10.201.0.0/24]\n  v6world: [\"::/0\"]\n  v4half: [128.0.0.0/1]\n");
    auto res = parse_config(text, "h.yaml");
    ASSERT_TRUE(res.errors.empty()) << res.errors[0].str();
    CompileInput in;
    in.config = &*res.config;
    in.node = "edge-a";
    auto g = compile_generation(in);
    auto v4half = lpm_role(g, *IpAddr::parse("203.0.113.9"));
    EXPECT_NE(v4half, XI_ROLE_WORLD);
    EXPECT_NE(v4half, lpm_role(g, *IpAddr::parse("2001:db8::1")));
    EXPECT_EQ(lpm_role(g, *IpAddr::parse("100.64.0.1")), XI_ROLE_WORLD);
}

// ---- 2. duplicate keys ------------------------------------------------------------------

TEST(HostileConfig, DuplicateKeysAreRefusedWithBothLines)
{
    EXPECT_EQ(
        first_error(with(kBase, "    action: allow\n", "    action: allow\n    action: deny\n")),
        "h.yaml:28:5: duplicate key 'action' (first at line 27): YAML would silently keep "
        "one of them");
    EXPECT_REFUSED(with(kBase, "  ingress: deny\n", "  ingress: deny\n  ingress: allow\n"),
                   "duplicate key 'ingress' (first at line 29)");
    EXPECT_REFUSED(std::string(kBase) + "version: 2\n",
                   "duplicate key 'version' (first at line 1)");
    EXPECT_REFUSED(with(kBase, "  apps: [10.201.0.0/24]\n",
                        "  apps: [10.201.0.0/24]\n  apps: [10.9.0.0/16]\n"),
                   "duplicate key 'apps'");
}

// ---- 3. empty lists ---------------------------------------------------------------------

TEST(HostileConfig, EmptyPortListIsNotEveryPort)
{
    EXPECT_EQ(first_error(with(kBase, "ports: [8080]", "ports: []")),
              "h.yaml:26:12: rule ports is an empty list: write 'any' for every port, or list "
              "the ports");
    EXPECT_REFUSED(with(kBase, "ports: [80, 443]", "ports: []"), "vip ports is an empty list");
    EXPECT_REFUSED(with(kBase, "apps: [10.201.0.0/24]", "apps: [10.201.0.0/24]\n  none: []"),
                   "identity 'none' is an empty list");
    EXPECT_REFUSED(std::string(kBase) + "reply_only: []\n", "reply_only is an empty list");
}

// ---- 4. control characters ----------------------------------------------------------------

TEST(HostileConfig, NulAndControlCharactersAreRefused)
{
    EXPECT_REFUSED(with(kBase, "address: 198.51.100.10", "address: \"198.51.100.10\\0junk\""),
                   "vip address holds a control character (0x00 at offset 13)");
    EXPECT_REFUSED(with(kBase, "public_interface: eth0", "public_interface: \"lo\\0evil\""),
                   "public_interface holds a control character (0x00 at offset 2)");
    EXPECT_REFUSED(with(kBase, "  - name: web\n    from", "  - name: \"web\\e[31m\"\n    from"),
                   "rule name holds a control character (0x1b at offset 3)");
}

// ---- 5. multiple documents ----------------------------------------------------------------

TEST(HostileConfig, OnlyOneDocument)
{
    EXPECT_EQ(first_error(std::string(kBase) + "---\nversion: 1\n"),
              "h.yaml:31:1: a second YAML document ('---'): a config is one document, and "
              "nothing after the first would be read");
    // Found by the fuzzer: YAML::LoadAll never returned on this one (a stray ']' and ','
    // in a copy of the example); documents are now found by their markers.
    EXPECT_REFUSED(std::string(kBase) + "---\nbroken: [\n", "h.yaml:31:1: a second YAML document");
    EXPECT_REFUSED(std::string(kBase) + "...\nversion: 1\n", "h.yaml:32:1: a second YAML document");
    auto ok = errors_of(std::string("# fleet\n---\n") + kBase + "...\n# end\n");
    EXPECT_TRUE(ok.empty()) << ok[0];
}

// ---- 6. names -----------------------------------------------------------------------------

TEST(HostileConfig, RuleNamesAreNames)
{
    EXPECT_REFUSED(with(kBase, "  - name: web\n    from", "  - name: \"\"\n    from"),
                   "rule name '' must be 1-63 characters");
    EXPECT_REFUSED(with(kBase, "  - name: web\n    from",
                        "  - name: " + std::string(100000, 'r') + "\n    from"),
                   "must be 1-63 characters");
    EXPECT_REFUSED(with(kBase, "  - name: web\n    from", "  - name: \"a b\"\n    from"),
                   "rule name 'a b' must be");
}

TEST(HostileConfig, InterfaceNamesFollowTheKernelsRule)
{
    for (const char *bad : {"eth0:1", "..", ".", "\"a b\"", "eth/0", "abcdefghijklmnop"}) {
        EXPECT_REFUSED(
            with(kBase, "public_interface: eth0", std::string("public_interface: ") + bad),
            "is not a valid interface name");
    }
    auto ok = errors_of(with(kBase, "public_interface: eth0", "public_interface: enp0s31f6.100"));
    EXPECT_TRUE(ok.empty()) << ok[0];
}

// ---- 7. flow-style rule lists -------------------------------------------------------------

TEST(HostileConfig, FlowStyleRulesGetDistinctGeneratedNames)
{
    auto text = with(kBase,
                     "rules:\n  - name: web\n    from: edges\n    to: apps\n    protocol: tcp\n    "
                     "ports: [8080]\n    action: allow\n",
                     "rules: [{from: edges, to: apps, protocol: tcp, ports: [80], action: allow}, "
                     "{from: edges, to: apps, protocol: tcp, ports: [443], action: allow}]\n");
    auto res = parse_config(text, "h.yaml");
    ASSERT_TRUE(res.errors.empty()) << res.errors[0].str();
    ASSERT_EQ(res.config->rules.size(), 2u);
    EXPECT_EQ(res.config->rules[0].name, "edges->apps/tcp@21:9");
    EXPECT_EQ(res.config->rules[1].name, "edges->apps/tcp@21:77");
    // Block style keeps the line alone: the names of existing counters do not change.
    auto block = parse_config(with(kBase, "  - name: web\n    from", "  - from"), "h.yaml");
    ASSERT_TRUE(block.errors.empty()) << block.errors[0].str();
    EXPECT_EQ(block.config->rules[0].name, "edges->apps/tcp@22");
}

// ---- also accepted without a word ---------------------------------------------------------

TEST(HostileConfig, AddressesThatCannotBeAHost)
{
    EXPECT_REFUSED(with(kBase, "address: 198.51.100.10", "address: 255.255.255.255"),
                   "vip 'web' address 255.255.255.255 is the broadcast address");
    EXPECT_REFUSED(with(kBase, "address: 198.51.100.10", "address: 169.254.169.254"),
                   "vip 'web' address 169.254.169.254 is a cloud metadata service address");
    EXPECT_REFUSED(with(kBase, "address: 198.51.100.10", "address: 224.0.0.1"), "multicast");
    EXPECT_REFUSED(with(with(kBase, "mesh_ipv4: 10.201.0.1", "mesh_ipv4: 127.0.0.2"),
                        "apps: [10.201.0.0/24]", "apps: [127.0.0.0/8]"),
                   "mesh address 127.0.0.2 of node 'app-1' is a loopback address");
    EXPECT_REFUSED(std::string(kBase) + "metadata_extra: [10.0.0.0/8]\n",
                   "metadata_extra 10.0.0.0/8 covers the mesh address 10.200.0.1 of node 'edge-a'");
    EXPECT_REFUSED(std::string(kBase) + "metadata_extra: [198.51.100.0/24]\n",
                   "vip 'web' address 198.51.100.10 is in metadata_extra 198.51.100.0/24");
}

TEST(HostileConfig, LeadingZeroIsNeitherOctalNorDecimal)
{
    EXPECT_EQ(first_error(with(kBase, "hash_seed: 0x1234", "hash_seed: 0755")),
              "h.yaml:3:14: fleet.hash_seed: '0755' has a leading zero (octal or decimal?): write "
              "it without the zero, or in hex with 0x");
}

TEST(HostileConfig, OnlyUtf8Text)
{
    // UTF-16LE with its byte order mark: yaml-cpp would decode it.
    std::string u16 = "\xff\xfe";
    for (char ch : std::string(kBase)) {
        u16 += ch;
        u16 += '\0';
    }
    EXPECT_EQ(first_error(u16), "h.yaml:1:0: not UTF-8 text (byte 0): save the file as UTF-8");
    EXPECT_REFUSED(with(kBase, "name: web\n    address", "name: w\xc3\n    address"),
                   "not UTF-8 text (byte ");
    EXPECT_REFUSED(with(kBase, "name: web\n    address", "name: w\xc0\xaf\n    address"),
                   "not UTF-8"); // overlong '/'
    // Found by the fuzzer: a control character in a comment (libyaml refuses the file; an
    // escape sequence there can hide lines from whoever reads the file in a terminal).
    EXPECT_EQ(first_error(with(kBase, "hash_seed: 0x1234", "hash_seed: 0x1234 # a\x1b[8m")),
              "h.yaml:3:0: a control character (0x1b, byte 41): YAML allows none, comments "
              "included");
    auto ok = errors_of(std::string(kBase) + "# caf\xc3\xa9\n");
    EXPECT_TRUE(ok.empty()) << ok[0];
}

TEST(HostileConfig, CarriageReturnsEndLinesWithTheirLineFeed)
{
    // Found by the fuzzer: CRs alone in a comment; libyaml breaks the line there and reads the
    // rest as YAML, yaml-cpp reads it as the comment's.
    EXPECT_EQ(first_error(with(kBase, "hash_seed: 0x1234", "hash_seed: 0x1234 # x\rversion: 2")),
              "h.yaml:3:0: a carriage return without a line feed (byte 41): end lines with LF or "
              "CR LF");
    std::string crlf;
    for (char ch : std::string(kBase)) {
        if (ch == '\n')
            crlf += '\r';
        crlf += ch;
    }
    auto ok = errors_of(crlf);
    EXPECT_TRUE(ok.empty()) << ok[0];
}

TEST(HostileConfig, NoTabsInIndentation)
{
    // Found by the fuzzer: a tab before a comment on the first line; yaml-cpp reads the file,
    // libyaml refuses it.
    EXPECT_EQ(first_error(std::string("\t# fleet\n") + kBase),
              "h.yaml:1:1: a tab in the indentation: YAML indents with spaces only");
    EXPECT_EQ(first_error(with(kBase, "    protocol: tcp\n    ports: [8080]",
                               "    protocol: tcp\n\t  ports: [8080]")),
              "h.yaml:26:1: a tab in the indentation: YAML indents with spaces only");
    auto ok =
        errors_of(with(kBase, "hash_seed: 0x1234", "hash_seed:\t0x1234\t# tabs inside a line"));
    EXPECT_TRUE(ok.empty()) << ok[0];
}

TEST(HostileConfig, AliasBombsAndDeepNestingStop)
{
    std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
    char prev = 'a';
    for (char c = 'b'; c <= 'i'; c++, prev = c - 1)
        bomb += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" +
                prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
                ", *" + prev + "]\n";
    EXPECT_REFUSED(bomb, "expands (through aliases) to more than 20000000 nodes");
    std::string deep = "version: " + std::string(200, '[') + std::string(200, ']') + "\n";
    EXPECT_REFUSED(deep, "nesting deeper than 64 levels");
}

// ---- 9. special files ---------------------------------------------------------------------

struct TempDir {
    std::string path;
    TempDir()
    {
        char t[] = "/tmp/xi-hostile-XXXXXX";
        path = mkdtemp(t);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

TEST(HostileConfig, OnlyRegularFilesAreRead)
{
    TempDir d;
    const std::string fifo = d.path + "/fifo";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    EXPECT_EQ(load_config(fifo).errors.at(0).str(),
              fifo + ": not a regular file (a FIFO): give the config file itself");
    EXPECT_EQ(load_config(d.path).errors.at(0).str(),
              d.path + ": is a directory: give the config file itself");
    EXPECT_EQ(load_config("/dev/zero").errors.at(0).str(),
              "/dev/zero: not a regular file (a character device): give the config file itself");
    EXPECT_EQ(load_config(d.path + "/none").errors.at(0).str(),
              d.path + "/none: cannot read: No such file or directory");
    // A symlink to a regular file (how a Kubernetes ConfigMap swaps its files) is read.
    const std::string real = d.path + "/real.yaml", link = d.path + "/link.yaml";
    std::ofstream(real) << kBase;
    ASSERT_EQ(symlink(real.c_str(), link.c_str()), 0);
    auto res = load_config(link);
    EXPECT_TRUE(res.errors.empty()) << res.errors[0].str();
    // Far above any real config, yet bounded.
    const std::string big = d.path + "/big.yaml";
    ASSERT_EQ(truncate((std::ofstream(big), big.c_str()), kMaxConfigBytes + 1), 0);
    EXPECT_EQ(load_config(big).errors.at(0).str(),
              big + ": " + std::to_string(kMaxConfigBytes + 1) + " bytes, more than a config " +
                  "can be (at most " + std::to_string(kMaxConfigBytes) + ")");
}

} // namespace
} // namespace xi
