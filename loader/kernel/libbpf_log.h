// libbpf's messages: formatted without a size limit (a verifier log runs to megabytes and is
// the one message a user needs whole), and recorded while a call runs so the caller can read
// what libbpf said (the verifier's reason for a refused program, a qdisc that exists already).
#pragma once

#include <bpf/libbpf.h>
#include <cstdarg>
#include <string>

namespace xi
{

std::string format_libbpf(const char *fmt, va_list args);

// While alive, libbpf's warnings and infos are recorded; with forward they also go on to the
// printer that was installed before (spdlog in the CLI), else they are held back. One at a
// time per process: libbpf has a single printer.
class LibbpfCapture
{
public:
    explicit LibbpfCapture(bool forward);
    ~LibbpfCapture();
    LibbpfCapture(const LibbpfCapture &) = delete;
    LibbpfCapture &operator=(const LibbpfCapture &) = delete;
    const std::string &text() const { return text_; }

private:
    static int print(enum libbpf_print_level level, const char *fmt, va_list args);
    libbpf_print_fn_t prev_ = nullptr;
    bool forward_;
    std::string text_;
};

// "bpf_xdp_adjust_meta#54" when the verifier's log says a helper is refused in this program
// type ("program of this type cannot use helper ...", on older kernels "unknown func ..."),
// else "".
std::string refused_helper(const std::string &verifier_log);

} // namespace xi
