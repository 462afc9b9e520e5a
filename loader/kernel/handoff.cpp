#include "handoff.h"

#include <bpf/bpf.h>
#include <cstdlib>
#include <linux/bpf.h>
#include <unistd.h>
#include <vector>

#include "error.h"
#include "libbpf_log.h"

namespace xi
{

namespace
{

constexpr int kHelperXdpAdjustMeta = BPF_FUNC_xdp_adjust_meta;
constexpr int kHelperSkbVlanPop = BPF_FUNC_skb_vlan_pop; // TC only: XDP may never call it

// r2 = -8; call helper (r1 = ctx as on entry); r0 = XDP_PASS; exit
std::vector<bpf_insn> probe_program(int helper)
{
    bpf_insn mov_r2{}, call{}, mov_r0{}, exit{};
    mov_r2.code = BPF_ALU64 | BPF_MOV | BPF_K;
    mov_r2.dst_reg = BPF_REG_2;
    mov_r2.imm = -8;
    call.code = BPF_JMP | BPF_CALL;
    call.imm = helper;
    mov_r0.code = BPF_ALU64 | BPF_MOV | BPF_K;
    mov_r0.dst_reg = BPF_REG_0;
    mov_r0.imm = XDP_PASS;
    exit.code = BPF_JMP | BPF_EXIT;
    return {mov_r2, call, mov_r0, exit};
}

} // namespace

HelperProbe probe_xdp_helper(int helper)
{
    auto insns = probe_program(helper);
    HelperProbe p;
    int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xi_meta_probe", "GPL", insns.data(), insns.size(),
                           nullptr);
    if (fd >= 0) {
        close(fd);
        p.result = HelperProbe::Result::Available;
        return p;
    }
    p.err = errno;
    // Again with the verifier's log, to tell "refused" from "not allowed to load at all".
    std::string log(64 * 1024, '\0');
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_level = 1,
                .log_size = static_cast<__u32>(log.size()), .log_buf = log.data());
    fd =
        bpf_prog_load(BPF_PROG_TYPE_XDP, "xi_meta_probe", "GPL", insns.data(), insns.size(), &opts);
    if (fd >= 0)
        close(fd); // loads now: a transient failure; the real load will tell
    log.resize(log.find('\0') == std::string::npos ? log.size() : log.find('\0'));
    std::string helper_name = refused_helper(log);
    if (!helper_name.empty()) {
        p.result = HelperProbe::Result::Refused;
        // The verifier's own line: "program of this type cannot use helper ..." (6.x) or
        // "unknown func ..." (older kernels), whichever names the helper.
        for (std::string words : {"program of this type cannot use helper ", "unknown func "}) {
            auto at = log.find(words + helper_name);
            if (at == std::string::npos)
                continue;
            auto eol = log.find('\n', at);
            p.verifier = log.substr(at, eol == std::string::npos ? std::string::npos : eol - at);
            break;
        }
    }
    return p;
}

std::optional<HandoffRequest> parse_handoff(const std::string &s)
{
    if (s == "auto")
        return HandoffRequest::Auto;
    if (s == "xdp-mark")
        return HandoffRequest::XdpMark;
    if (s == "tc")
        return HandoffRequest::Tc;
    return std::nullopt;
}

const char *handoff_name(uint8_t mode)
{
    switch (mode) {
    case XI_HANDOFF_TC:
        return "tc";
    case XI_HANDOFF_XDP_MARK:
        return "xdp-mark";
    default:
        return "";
    }
}

const HelperProbe &probe_xdp_meta()
{
    static const HelperProbe probe = [] {
        const char *refuse = std::getenv("XI_TEST_XDP_META_REFUSED");
        return probe_xdp_helper(refuse && *refuse == '1' ? kHelperSkbVlanPop
                                                         : kHelperXdpAdjustMeta);
    }();
    return probe;
}

uint8_t choose_handoff(HandoffRequest req, const std::string &ifname)
{
    if (req != HandoffRequest::XdpMark)
        return XI_HANDOFF_TC;
    return choose_handoff(req, ifname, probe_xdp_meta());
}

uint8_t choose_handoff(HandoffRequest req, const std::string &ifname, const HelperProbe &p)
{
    if (req != HandoffRequest::XdpMark)
        return XI_HANDOFF_TC;
    if (p.result == HelperProbe::Result::Available)
        return XI_HANDOFF_XDP_MARK;
    std::string why =
        p.result == HelperProbe::Result::Refused
            ? "this kernel's verifier refuses bpf_xdp_adjust_meta in XDP programs (\"" +
                  p.verifier + "\")"
            : "a probe program calling bpf_xdp_adjust_meta did not load (" +
                  std::string(std::strerror(p.err)) + ")";
    throw Error("hand-off xdp-mark cannot run on " + ifname + ": " + why, 0,
                "use --handoff tc (the default)");
}

} // namespace xi
