#include "bulk_tcp.h"

#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <stdexcept>

#include "error.h"

namespace xi::bench
{

namespace
{

sockaddr_in addr4(const char *ip, uint16_t port)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
        throw std::logic_error(std::string("bad address ") + ip);
    return a;
}

double seconds_left(Clock::time_point deadline)
{
    return std::chrono::duration<double>(deadline - Clock::now()).count();
}

// Waits for fd to be ready for `events`; throws at the deadline.
void wait_fd(int fd, short events, Clock::time_point deadline, const char *what)
{
    for (;;) {
        check_interrupted();
        double left = seconds_left(deadline);
        if (left <= 0)
            throw std::runtime_error(std::string("bulk transfer: timed out ") + what);
        pollfd p{fd, events, 0};
        int rc = poll(&p, 1, static_cast<int>(std::min(left, 0.2) * 1000) + 1);
        if (rc > 0)
            return;
        if (rc < 0 && errno != EINTR)
            throw Error(std::string("poll ") + what, errno);
    }
}

} // namespace

double transfer(Netns &cl, const char *client, const char *vip, uint16_t port, uint16_t sport,
                uint64_t bytes, double max_seconds)
{
    auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(max_seconds));
    Fd s(in_ns(cl, [] { return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); }));
    if (s.get() < 0)
        throw Error("client socket", errno);
    int one = 1;
    setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in src = addr4(client, sport), dst = addr4(vip, port);
    if (bind(s.get(), reinterpret_cast<sockaddr *>(&src), sizeof(src)) != 0)
        throw Error("bind " + std::string(client) + ":" + std::to_string(sport), errno);
    auto t0 = Clock::now();
    if (connect(s.get(), reinterpret_cast<sockaddr *>(&dst), sizeof(dst)) != 0 &&
        errno != EINPROGRESS)
        throw Error("connect to the VIP", errno);
    wait_fd(s.get(), POLLOUT, deadline, "connecting to the VIP through edge A");
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (soerr)
        throw Error("connect to the VIP through edge A", soerr);
    std::vector<char> buf(1 << 18);
    for (size_t i = 0; i < buf.size(); i++)
        buf[i] = static_cast<char>(i * 131 + 7);
    uint64_t sent = 0;
    while (sent < bytes) {
        wait_fd(s.get(), POLLOUT, deadline, "sending (is the forward path dropping?)");
        size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), bytes - sent));
        ssize_t n = send(s.get(), buf.data(), want, MSG_NOSIGNAL);
        if (n > 0)
            sent += static_cast<uint64_t>(n);
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            throw Error("send", errno);
    }
    shutdown(s.get(), SHUT_WR);
    uint64_t got = 0;
    size_t have = 0;
    while (have < sizeof(got)) {
        wait_fd(s.get(), POLLIN, deadline, "waiting for the server's byte count");
        ssize_t n = read(s.get(), reinterpret_cast<char *>(&got) + have, sizeof(got) - have);
        if (n == 0)
            throw std::runtime_error("bulk transfer: the server closed without its byte count");
        if (n > 0)
            have += static_cast<size_t>(n);
        else if (errno != EAGAIN && errno != EINTR)
            throw Error("read", errno);
    }
    if (got != bytes)
        throw std::runtime_error("bulk transfer: the server received " + std::to_string(got) +
                                 " of " + std::to_string(bytes) + " bytes");
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A listening socket on VIP:443, made in ns.
int listener(Netns &ns, const char *ip, uint16_t port)
{
    int fd = in_ns(ns, [] { return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); });
    if (fd < 0)
        throw Error("server socket in " + ns.name(), errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in la = addr4(ip, port);
    if (bind(fd, reinterpret_cast<sockaddr *>(&la), sizeof(la)) != 0 || listen(fd, 8) != 0) {
        int e = errno;
        close(fd);
        throw Error("server socket in " + ns.name(), e);
    }
    return fd;
}

} // namespace xi::bench
