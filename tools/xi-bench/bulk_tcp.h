// The TCP ends of the bulk section (bench_bulk.cpp): a server that counts what it receives and
// a client that sends a bounded number of bytes through the datapath, each in its own namespace.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <type_traits>
#include <unistd.h>
#include <vector>

#include "bench.h"
#include "scoped_fd.h"

namespace xi::bench
{

using Clock = std::chrono::steady_clock;

using Fd = test::Fd; // tests/lib/scoped_fd.h

// Runs fn with this thread in ns (sockets and ifindexes belong to the namespace they were made
// in), and leaves again whatever happens.
template <typename F>
auto in_ns(Netns &ns, F fn)
{
    ns.enter();
    try {
        if constexpr (std::is_void_v<decltype(fn())>) {
            fn();
            ns.leave();
        } else {
            auto v = fn();
            ns.leave();
            return v;
        }
    } catch (...) {
        ns.leave();
        throw;
    }
}

// The server on B: one connection at a time; reads to EOF, answers with the byte count (8
// bytes), closes. Runs until stop is set; its listening socket was made in B's namespace.
class Server
{
public:
    explicit Server(int listen_fd) : fd_(listen_fd), t_([this] { run(); }) {}
    ~Server()
    {
        stop_ = true;
        t_.join();
    }
    Server(const Server &) = delete;
    Server &operator=(const Server &) = delete;
    std::string error() const { return err_; }

private:
    void run()
    {
        std::vector<char> buf(1 << 18);
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 100) <= 0)
                continue;
            Fd c(accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC));
            if (c.get() < 0)
                continue;
            timeval tv{0, 200000};
            setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            uint64_t got = 0;
            bool eof = false;
            while (!stop_ && !eof) {
                ssize_t n = read(c.get(), buf.data(), buf.size());
                if (n > 0)
                    got += static_cast<uint64_t>(n);
                else if (n == 0)
                    eof = true;
                else if (errno != EAGAIN && errno != EINTR)
                    break;
            }
            if (eof && write(c.get(), &got, sizeof(got)) != sizeof(got))
                err_ = "server: cannot answer with the byte count";
        }
    }
    int fd_;
    std::atomic<bool> stop_{false};
    std::string err_;
    std::thread t_;
};

// One transfer of `bytes` from client:sport to vip:port, from namespace cl; returns the seconds
// it took. Throws when the server did not receive every byte or the deadline passed.
double transfer(Netns &cl, const char *client, const char *vip, uint16_t port, uint16_t sport,
                uint64_t bytes, double max_seconds);
// A listening TCP socket on ip:port, made in ns.
int listener(Netns &ns, const char *ip, uint16_t port);

} // namespace xi::bench
