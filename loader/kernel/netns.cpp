#include "netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

namespace xi
{

static std::string netns_path(const std::string &name)
{
    return name.find('/') == std::string::npos ? "/var/run/netns/" + name : name;
}

bool netns_exists(const std::string &name)
{
    return access(netns_path(name).c_str(), R_OK) == 0;
}

// The namespace the process started in, kept open from the first join on.
static int initial_netns_fd = -1;

void join_netns(const std::string &name)
{
    if (name.empty()) {
        if (initial_netns_fd >= 0 && setns(initial_netns_fd, CLONE_NEWNET) != 0)
            throw Error("cannot return to the initial network namespace", errno);
        return;
    }
    if (initial_netns_fd < 0)
        initial_netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    std::string path = netns_path(name);
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw Error("cannot open network namespace '" + name + "' (" + path + ")", errno,
                    "list them with `ip netns list`");
    int rc = setns(fd, CLONE_NEWNET);
    int err = errno;
    close(fd);
    if (rc != 0)
        throw Error("cannot join network namespace '" + name + "'", err,
                    "joining a namespace needs CAP_SYS_ADMIN");
}

unsigned long current_netns_inode()
{
    struct stat st;
    if (stat("/proc/self/ns/net", &st) != 0)
        return 0;
    return st.st_ino;
}

} // namespace xi
