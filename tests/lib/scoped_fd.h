// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// A file descriptor closed on destruction (movable, not copyable), for test harnesses and the
// benchmarks (the encapsulation chain's sockets, xi-bench's bulk TCP ends).
#pragma once

#include <unistd.h>
#include <utility>

namespace xi::test
{

class Fd
{
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd()
    {
        if (fd_ >= 0)
            close(fd_);
    }
    Fd(Fd &&o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Fd &operator=(Fd &&o) noexcept
    {
        std::swap(fd_, o.fd_);
        return *this;
    }
    int get() const { return fd_; }

private:
    int fd_;
};

} // namespace xi::test
