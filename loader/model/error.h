// Errors that reach the user: what happened, the errno if any, and what to do about it.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace xi
{

// Rendered as "Error: <what>: <strerror(err)> -- <hint>" (plain) or {"error": ...} (JSON).
class Error : public std::runtime_error
{
public:
    Error(std::string what, int err = 0, std::string hint = {})
        : std::runtime_error(std::move(what)), err_(err), hint_(std::move(hint))
    {
    }
    int err() const { return err_; }
    const std::string &hint() const { return hint_; }
    std::string full() const
    {
        std::string s = what();
        if (err_)
            s += std::string(": ") + std::strerror(err_ < 0 ? -err_ : err_);
        if (!hint_.empty())
            s += " -- " + hint_;
        return s;
    }

private:
    int err_;
    std::string hint_;
};

// libbpf returns -errno (and sets errno); normalise to a positive errno.
inline int errno_of(int ret)
{
    return ret < 0 ? -ret : (errno ? errno : EINVAL);
}

} // namespace xi
