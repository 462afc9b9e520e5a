#include "cli.h"

#include "libbpf_log.h"

#include <bpf/libbpf.h>
#include <cstdarg>
#include <iostream>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace xi
{

void print_json(const Globals &g, const nlohmann::json &j)
{
    std::cout << json_text(j, g.pretty ? 2 : -1) << std::endl;
}

void print_error(const Globals &g, const std::string &message)
{
    if (g.json)
        print_json(g, {{"error", message}});
    else
        std::cerr << "Error: " << message << std::endl;
}

static int libbpf_to_spdlog(enum libbpf_print_level level, const char *fmt, va_list args)
{
    std::string msg = format_libbpf(fmt, args); // whole: a verifier log can be megabytes
    int n = static_cast<int>(msg.size());
    while (!msg.empty() && msg.back() == '\n')
        msg.pop_back();
    if (msg.rfind("libbpf: ", 0) == 0) // most of libbpf's messages name it already
        msg.erase(0, 8);
    switch (level) {
    case LIBBPF_WARN:
        spdlog::warn("libbpf: {}", msg);
        break;
    default:
        spdlog::debug("libbpf: {}", msg);
        break;
    }
    return n;
}

void setup_logging(bool verbose)
{
    auto logger = spdlog::stderr_color_mt("xdp-ingress");
    logger->set_pattern("%^%l%$: %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info);
    libbpf_set_print(libbpf_to_spdlog);
}

} // namespace xi
