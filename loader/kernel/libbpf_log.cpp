#include "libbpf_log.h"

#include <cstdio>
#include <regex>

namespace xi
{

namespace
{
LibbpfCapture *active_capture = nullptr;
}

std::string format_libbpf(const char *fmt, va_list args)
{
    va_list copy;
    va_copy(copy, args);
    char small[512];
    int n = vsnprintf(small, sizeof(small), fmt, copy);
    va_end(copy);
    if (n < 0)
        return {};
    if (static_cast<size_t>(n) < sizeof(small))
        return std::string(small, n);
    std::string out(n + 1, '\0');
    vsnprintf(out.data(), out.size(), fmt, args);
    out.resize(n);
    return out;
}

LibbpfCapture::LibbpfCapture(bool forward) : forward_(forward)
{
    active_capture = this;
    prev_ = libbpf_set_print(print);
}

LibbpfCapture::~LibbpfCapture()
{
    libbpf_set_print(prev_);
    active_capture = nullptr;
}

int LibbpfCapture::print(enum libbpf_print_level level, const char *fmt, va_list args)
{
    LibbpfCapture *c = active_capture;
    if (!c)
        return 0;
    va_list copy;
    va_copy(copy, args);
    if (level != LIBBPF_DEBUG)
        c->text_ += format_libbpf(fmt, copy);
    va_end(copy);
    if (c->forward_ && c->prev_)
        return c->prev_(level, fmt, args);
    return 0;
}

std::string refused_helper(const std::string &verifier_log)
{
    // 6.x: "program of this type cannot use helper NAME#N"; older verifiers (6.1): "unknown
    // func NAME#N".
    static const std::regex re("(?:cannot use helper|unknown func) ([A-Za-z0-9_]+#[0-9]+)");
    std::smatch m;
    if (std::regex_search(verifier_log, m, re))
        return m[1].str();
    return {};
}

} // namespace xi
