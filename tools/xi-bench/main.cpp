// xi-bench: the benchmarks of docs/benchmarks.md. Run them all with `make bench`
// (tools/bench BUILD_DIR); each section is a subcommand. Root, bpffs mounted.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <unistd.h>

#include "bench.h"
#include "error.h"
#include "scale_config.h"

int main(int argc, char **argv)
{
    using namespace xi::bench;
    CLI::App app{"xi-bench: datapath cost as ratios to an empty program (docs/benchmarks.md)"};
    app.require_subcommand(1);
    Options o;
    o.tag = "xibench-" + std::to_string(getpid());
    app.add_option("--tag", o.tag, "name prefix of scratch pins and the network namespace");
    app.add_option("--rounds", o.rounds, "interleaved rounds per measurement")
        ->check(CLI::Range(1, 1000));
    app.add_option("--repeat", o.repeat, "test_run repeat count (default: per section)")
        ->check(CLI::Range(1000, 100000000));
    app.add_option("--fresh", o.fresh,
                   "runs per fresh-packet measurement (test_run repeat 1 each, bpf_stats; "
                   "default 20000)")
        ->check(CLI::Range(100, 10000000));
    app.add_option("--cpu", o.cpu, "pin to this CPU (default: the last one)");
    app.add_flag("-v,--verbose", o.verbose);

    auto *xdp =
        app.add_subcommand("xdp", "XDP steering paths per hand-off mode vs an empty XDP program");
    xdp->add_option("--compare", o.compare,
                    "LABEL=OBJECT: also measure xi_xdp_public from another xdp_public.bpf.o");
    auto *tc = app.add_subcommand(
        "tc", "TC public ingress deciding (tc hand-off) vs an empty TC program, on skbs");
    tc->add_option("--compare", o.compare,
                   "LABEL=OBJECT: also measure xi_tc_pub_in from another tc_public_ingress.bpf.o");
    size_t prefixes = 100000, rules = 10000, edges = 64;
    auto *pol = app.add_subcommand("policy", "mesh policy verdicts, small vs large config");
    pol->add_option("--prefixes", prefixes, "identity prefixes of the large config");
    pol->add_option("--rules", rules, "rules of the large config");
    pol->add_option("--compare", o.compare,
                    "LABEL=OBJECT: also measure xi_mesh_in_l2 from another tc_mesh_ingress.bpf.o");
    auto *tun = app.add_subcommand(
        "tunnels", "mesh ingress with tunnel inspection on vs off (VXLAN, GRE, plain UDP)");
    auto *sc = app.add_subcommand(
        "second-chance", "the owner's hot path with and without previous owners (issue #13)");
    uint32_t packets = 200000;
    auto *live = app.add_subcommand("live", "XDP -> TC with live frames, costs from bpf_stats");
    live->add_option("--packets", packets, "frames per measurement");
    live->add_option(
        "--compare", o.compare,
        "LABEL=OBJECT: also measure xi_tc_pub_in from another tc_public_ingress.bpf.o");
    uint32_t megabytes = 64;
    double max_seconds = 60;
    auto *bulk = app.add_subcommand(
        "bulk", "BPF time per MB of a TCP transfer through the forward path, GRO on and off");
    bulk->add_option("--megabytes", megabytes, "MB (10^6 bytes) per measured transfer")
        ->check(CLI::Range(1, 4096));
    bulk->add_option("--max-seconds", max_seconds, "a transfer taking longer fails the run")
        ->check(CLI::Range(1.0, 3600.0));
    double seconds = 1.0;
    auto *rate = app.add_subcommand("rate", "live frames -> veth -> native XDP: packet rates");
    rate->add_option("--seconds", seconds, "per measurement");
    auto *load = app.add_subcommand("load", "parse, compile and publish a large config");
    load->add_option("--prefixes", prefixes, "identity prefixes");
    load->add_option("--rules", rules, "rules");
    load->add_option("--edges", edges, "edges (Maglev backends)");
    // The generated config of the load section as a file, for benchmarks of the real binary
    // (tools/bench-ops): the same generator, so both measure the same kind of file.
    uint64_t seed = 3;
    size_t identities = 1000, backends = 16;
    auto *gen = app.add_subcommand("config", "print a generated fleet config (YAML) on stdout");
    gen->add_option("--prefixes", prefixes, "identity prefixes");
    gen->add_option("--rules", rules, "rules");
    gen->add_option("--edges", edges, "edges");
    gen->add_option("--backends", backends, "backends");
    gen->add_option("--identities", identities, "generated identities");
    gen->add_option("--seed", seed, "random seed (a different seed changes every prefix and rule)");
    CLI11_PARSE(app, argc, argv);
    if (*gen) {
        try {
            ScaleSpec spec;
            spec.edges = edges;
            spec.backends = backends;
            spec.identities = identities;
            spec.prefixes = prefixes;
            spec.rules = rules;
            spec.seed = seed;
            auto sc = make_scale_config(spec);
            fwrite(sc.yaml.data(), 1, sc.yaml.size(), stdout);
            fprintf(stderr,
                    "xi-bench config: %zu edges (this node: %s), %zu identities, %zu "
                    "prefixes, %zu rules, %zu bytes\n",
                    edges, sc.self_edge.c_str(), sc.identities, sc.prefixes, sc.rules,
                    sc.yaml.size());
            return 0;
        } catch (const std::exception &e) {
            fprintf(stderr, "xi-bench config: %s\n", e.what());
            return 1;
        }
    }

    install_signal_handlers();
    try {
        int cpu = pin_cpu(o.cpu);
        if (o.verbose)
            fprintf(stderr, "pinned to CPU %d\n", cpu);
        // Sections default their repeat count to about 10-100 ms per measurement.
        if (*xdp)
            return bench_xdp(o.with_repeat(1000000));
        if (*tc)
            return bench_tc(o.with_repeat(1000000).with_fresh(20000));
        if (*bulk)
            return bench_bulk(o, megabytes, max_seconds);
        if (*pol)
            return bench_policy(o.with_repeat(100000), prefixes, rules);
        if (*tun)
            return bench_tunnel(o.with_repeat(100000));
        if (*sc)
            return bench_second_chance(o.with_repeat(100000).with_fresh(20000));
        if (*live)
            return bench_live(o, packets);
        if (*rate)
            return bench_rate(o, seconds);
        if (*load)
            return bench_load(o, prefixes, rules, edges);
    } catch (const std::exception &e) {
        // Everything created so far (pins, links, the namespace) is gone by now (RAII).
        if (g_interrupted) {
            fprintf(stderr, "xi-bench: interrupted\n");
            return 130;
        }
        auto *xe = dynamic_cast<const xi::Error *>(&e);
        fprintf(stderr, "xi-bench: %s\n", xe ? xe->full().c_str() : e.what());
        return 1;
    }
    return 0;
}
