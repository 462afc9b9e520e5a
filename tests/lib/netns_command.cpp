// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Commands and sysctls in named network namespaces (netns_command.h).
#include "netns_command.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace xi::test
{

namespace
{

std::string find_binary(const std::string &name)
{
    if (name.find('/') != std::string::npos)
        return name;
    std::string path = getenv("PATH") ? getenv("PATH") : "";
    path += ":/usr/sbin:/sbin:/usr/bin:/bin";
    std::istringstream in(path);
    for (std::string dir; std::getline(in, dir, ':');) {
        std::string p = dir + "/" + name;
        if (!dir.empty() && access(p.c_str(), X_OK) == 0)
            return p;
    }
    return name;
}

} // namespace

int run_command(const std::vector<std::string> &argv, std::string *output, const std::string &netns,
                int timeout_ms)
{
    if (argv.empty())
        return -1;
    std::string bin = find_binary(argv[0]);
    std::vector<std::string> args = argv;
    std::vector<char *> cargv;
    for (auto &a : args)
        cargv.push_back(a.data());
    cargv.push_back(nullptr);
    std::string nspath = netns.empty() ? "" : netns_path(netns);

    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        // Only async-signal-safe calls between fork and exec.
        if (!nspath.empty()) {
            int fd = open(nspath.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
                _exit(126);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        execv(bin.c_str(), cargv.data());
        _exit(127);
    }
    close(pfd[1]);
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    bool killed = false;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
            kill(pid, SIGKILL);
            killed = true;
            break;
        }
        pollfd p{pfd[0], POLLIN, 0};
        int r = poll(&p, 1, static_cast<int>(std::min<long long>(left, INT_MAX)));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        char buf[4096];
        ssize_t n = read(pfd[0], buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        out.append(buf, static_cast<size_t>(n));
    }
    close(pfd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (output)
        *output = out + (killed ? "\n(killed after " + std::to_string(timeout_ms) + " ms)" : "");
    if (killed || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

void must_run(const std::vector<std::string> &argv, const std::string &netns)
{
    std::string out;
    int rc = run_command(argv, &out, netns);
    if (rc != 0) {
        std::string cmd;
        for (const auto &a : argv)
            cmd += a + " ";
        throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + cmd +
                                 (netns.empty() ? "" : "[netns " + netns + "]") + "\n" + out);
    }
}

void set_netns_sysctl(const std::string &netns, const std::string &key, const std::string &value)
{
    ScopedNetns in(netns);
    std::string path = "/proc/sys/" + key;
    std::ofstream f(path);
    f << value << "\n";
    f.close();
    if (!f)
        throw std::runtime_error("cannot set " + path + " in netns " + netns);
}

} // namespace xi::test
