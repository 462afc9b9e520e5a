// Links against xi_model alone (loader/CMakeLists.txt): parse, check, compile and ask for an
// owner, the work of `validate` and `owner`. If any of it reached libbpf or another layer, this
// would not link. Run by ctest (layers.model_only) on the example fleet file.
#include <cstdio>
#include <fstream>
#include <iterator>

#include "compile.h"
#include "config.h"
#include "owner.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: xi_model_link_check CONFIG\n");
        return 2;
    }
    std::ifstream in(argv[1]);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto res = xi::parse_config(text, argv[1]);
    if (!res.config) {
        for (const auto &e : res.errors)
            std::fprintf(stderr, "%s\n", e.str().c_str());
        return 1;
    }
    xi::CompileInput ci;
    ci.config = &*res.config;
    ci.node = res.config->nodes.front().name;
    auto g = xi::compile_generation(ci);
    xi::FlowTuple t{*xi::IpAddr::parse("203.0.113.7"), *xi::IpAddr::parse("198.51.100.10"), 40000,
                    443, 6};
    std::printf("model only: %zu nodes, %zu identity entries, table %s, owner slot %u\n",
                res.config->nodes.size(), g.idents.size(), g.table_sha256.substr(0, 16).c_str(),
                xi::flow_owner(g, t));
    return 0;
}
