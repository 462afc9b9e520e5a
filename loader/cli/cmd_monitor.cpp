// monitor: stream deny and steering events, like `cilium monitor` / `hubble observe`.
#include <bpf/bpf.h>
#include <csignal>
#include <iostream>
#include <unistd.h>

#include "commands.h"
#include "error.h"
#include "event_budget.h"
#include "events.h"
#include "instance.h"
#include "publish.h"

namespace xi
{

namespace
{
volatile sig_atomic_t g_stop = 0;
}

void add_monitor_command(CLI::App &app, Globals &g, Runner &run)
{
    struct Opts {
        std::string instance;
        size_t count = 0;
        double duration = -1;
    };
    auto o = std::make_shared<Opts>();
    auto *cmd = app.add_subcommand("monitor", "Stream deny and steering events");
    cmd->add_option("-i,--instance", o->instance, "Instance (default: the hostname)");
    cmd->add_option("-c,--count", o->count, "Stop after this many events");
    cmd->add_option("-d,--duration", o->duration, "Stop after this many seconds");
    cmd->callback([&g, &run, o] {
        run = [&g, o] {
            std::string inst = o->instance.empty() ? default_node_name() : o->instance;
            std::string dir = g.paths.instance(inst);
            int fd = bpf_obj_get((dir + "/xi_events").c_str());
            if (fd < 0)
                throw Error("cannot open " + dir + "/xi_events", errno,
                            "is instance '" + inst + "' attached? (xdp-ingress status)");
            auto maps = GenMaps::open_pinned(dir);
            Catalogs names{read_catalog(maps, CatalogKind::Node),
                           read_catalog(maps, CatalogKind::Rule),
                           read_catalog(maps, CatalogKind::Role)};
            // The datapath makes events only as fast as a reader refills its budget.
            EventBudget budget(dir);
            budget.refill();
            std::signal(SIGINT, [](int) { g_stop = 1; });
            std::signal(SIGTERM, [](int) { g_stop = 1; });
            int timeout = o->duration < 0 ? -1 : static_cast<int>(o->duration * 1000);
            poll_events(
                fd,
                [&](const xi_event &e) {
                    auto j = event_json(e, names);
                    if (g.json)
                        std::cout << json_text(j) << std::endl;
                    else
                        std::cout << event_line(j) << std::endl;
                    return !g_stop;
                },
                o->count, timeout,
                [&budget] {
                    budget.refill();
                    return g_stop != 0;
                });
            close(fd);
            return 0;
        };
    });
}

} // namespace xi
