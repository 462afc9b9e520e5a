#include "agent_event.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <unistd.h>

#include "agent_event.skel.h"
#include "libbpf_log.h"
#include "xi_names.h"

namespace xi
{

struct AgentEventSink::Skel {
    agent_event *s = nullptr;
    ~Skel()
    {
        if (s)
            agent_event__destroy(s);
    }
};

AgentEventSink::AgentEventSink(const std::string &dir) : skel_(std::make_unique<Skel>())
{
    std::string pin = dir + "/xi_events";
    if (access(pin.c_str(), F_OK) != 0) {
        why_ = pin + " does not exist";
        return;
    }
    LibbpfCapture quiet(false); // a kernel without syscall programs is an expected outcome
    skel_->s = agent_event__open();
    if (!skel_->s) {
        why_ = std::string("cannot open the agent_event object: ") + std::strerror(errno);
        return;
    }
    // Only reuse: never create a ring buffer of our own beside the datapath's.
    int fd = bpf_obj_get(pin.c_str());
    if (fd < 0 || bpf_map__reuse_fd(skel_->s->maps.xi_events, fd) != 0) {
        why_ = "cannot open " + pin + ": " + std::strerror(errno);
        if (fd >= 0)
            close(fd);
        return;
    }
    close(fd);
    int err = agent_event__load(skel_->s);
    if (err) {
        why_ = std::string("this kernel does not load the syscall program that writes them (") +
               std::strerror(-err) + ")";
        return;
    }
    prog_fd_ = bpf_program__fd(skel_->s->progs.xi_agent_event);
}

AgentEventSink::~AgentEventSink() = default;

bool AgentEventSink::emit(xi_event e) const
{
    if (prog_fd_ < 0)
        return false;
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    e.ts_ns = uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
    e.flags |= XI_EV_F_AGENT;
    e.hook = XI_EV_HOOK_AGENT;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &e, .ctx_size_in = sizeof(e));
    return bpf_prog_test_run_opts(prog_fd_, &opts) == 0 && opts.retval == 0;
}

} // namespace xi
