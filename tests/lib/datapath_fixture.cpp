#include "datapath_fixture.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

#include "bpffs.h"
#include "config.h"
#include "counters.h"
#include "generation.h"
#include "privileges.h"
#include "xi_names.h"
#include "xi_reasons.h"

namespace xi::test
{

DatapathFixture::DatapathFixture(const std::string &config_yaml, const std::string &node,
                                 FixtureOptions o)
{
    Paths paths;
    dir_ = paths.instance(scratch_instance("dp"));
    auto res = parse_config(config_yaml, "fixture.yaml");
    if (!res.errors.empty())
        throw std::runtime_error("fixture config: " + res.errors[0].str());
    const NodeCfg *self = res.config->find_node(node);
    mkdir_p(dir_);
    // A constructor that throws runs no destructor: remove the pins it made here.
    try {
        dp_ = std::make_unique<Datapath>(
            LoadOptions{dir_, self && self->is_edge(), o.mesh_l2, o.handoff, o.mark_fails, o.mesh});
        maps_ = std::make_unique<GenMaps>(GenMaps::open_pinned(dir_));
        publish(config_yaml, node);
    } catch (...) {
        cleanup();
        throw;
    }
}

DatapathFixture::~DatapathFixture()
{
    cleanup();
}

void DatapathFixture::cleanup()
{
    maps_.reset();
    dp_.reset();
    for (const auto &n : list_dir(dir_))
        unlink((dir_ + "/" + n).c_str());
    rmdir(dir_.c_str());
}

void DatapathFixture::publish(const std::string &config_yaml, const std::string &node)
{
    auto res = parse_config(config_yaml, "fixture.yaml");
    if (!res.errors.empty())
        throw std::runtime_error("fixture config: " + res.errors[0].str());
    // test_run never transmits; any ifindex makes bpf_redirect succeed.
    gen_ = publish_next_generation(*maps_, *res.config, node, 1).gen;
}

uint16_t DatapathFixture::node_slot(const std::string &name) const
{
    for (size_t i = 0; i < gen_.node_names.size(); i++)
        if (gen_.node_names[i] == name)
            return static_cast<uint16_t>(i);
    throw std::runtime_error("no node " + name);
}

RunResult DatapathFixture::run_xdp(const Bytes &pkt)
{
    RunResult r;
    Bytes out(pkt.size() + 256);
    // With a context the kernel reports the metadata length back (ctx_out.data); it wants
    // ctx_in to describe the frame: no metadata, data_end = length.
    xdp_md ctx_in{}, ctx_out{};
    ctx_in.data_end = static_cast<__u32>(pkt.size());
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt.data(), .data_out = out.data(),
                .data_size_in = static_cast<__u32>(pkt.size()),
                .data_size_out = static_cast<__u32>(out.size()), .ctx_in = &ctx_in,
                .ctx_out = &ctx_out, .ctx_size_in = sizeof(ctx_in), .ctx_size_out = sizeof(ctx_out),
                .repeat = 1);
    int err = bpf_prog_test_run_opts(dp_->prog_fd(Prog::XdpPublic), &opts);
    if (err)
        throw TestRunError("XDP test_run failed: " + std::to_string(err), -err);
    // data_out starts at data_meta; ctx_out.data is the metadata length.
    out.resize(opts.data_size_out);
    r.retval = opts.retval;
    r.meta.assign(out.begin(), out.begin() + ctx_out.data);
    r.out.assign(out.begin() + ctx_out.data, out.end());
    return r;
}

RunResult DatapathFixture::run_tc(Prog p, const Bytes &pkt, uint32_t gso_size, uint32_t mark)
{
    RunResult r;
    Bytes out(pkt.size() + 512);
    __sk_buff ctx{}, ctx_out{};
    ctx.gso_size = gso_size;
    ctx.gso_segs = gso_size ? 2 : 0;
    ctx.mark = mark;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt.data(), .data_out = out.data(),
                .data_size_in = static_cast<__u32>(pkt.size()),
                .data_size_out = static_cast<__u32>(out.size()), .ctx_in = &ctx,
                .ctx_out = &ctx_out, .ctx_size_in = sizeof(ctx), .ctx_size_out = sizeof(ctx_out),
                .repeat = 1);
    int err = bpf_prog_test_run_opts(dp_->prog_fd(p), &opts);
    if (err)
        throw TestRunError(
            "TC test_run of " + dp_->prog_name(p) + " failed: " + std::to_string(err), -err);
    out.resize(opts.data_size_out);
    r.retval = opts.retval;
    r.out = std::move(out);
    r.mark = ctx_out.mark;
    return r;
}

double DatapathFixture::time_prog(Prog p, const Bytes &pkt, uint32_t repeat)
{
    Bytes out(pkt.size() + 512);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt.data(), .data_out = out.data(),
                .data_size_in = static_cast<__u32>(pkt.size()),
                .data_size_out = static_cast<__u32>(out.size()),
                .repeat = static_cast<int>(repeat));
    if (bpf_prog_test_run_opts(dp_->prog_fd(p), &opts))
        throw std::runtime_error("test_run failed");
    return opts.duration;
}

Counters DatapathFixture::counters() const
{
    return reason_counters(dp_->map_fd(XI_MAP_STATS));
}

} // namespace xi::test
