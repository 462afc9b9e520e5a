// serve: the long-running agent. Attaches if needed, exports metrics and /healthz, reloads
// on SIGHUP and whenever the config file's content changes (editors' rename-on-save and the
// Kubernetes ConfigMap "..data" symlink swap included), exits on SIGTERM leaving the datapath
// attached (the pins keep it running) unless --detach-on-exit.
#pragma once

#include <string>

#include "attach.h"
#include "bpffs.h"
#include "handoff.h"
#include "instance.h"

namespace xi
{

struct ServeOptions {
    // What the first attach uses when the instance is not attached yet (the same options as the
    // attach verb's); paths, config_path, node and instance are the agent's throughout.
    AttachOptions attach;
    std::string metrics_addr = "127.0.0.1:9470";
    bool detach_on_exit = false;
    double poll_interval_s = 2.0; // content check even without inotify events
};

int serve(const ServeOptions &o);

} // namespace xi
