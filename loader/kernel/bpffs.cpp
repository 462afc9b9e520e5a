#include "bpffs.h"

#include <algorithm>
#include <chrono>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <thread>
#include <unistd.h>

#include "error.h"

namespace xi
{

void require_bpffs(const Paths &p)
{
    struct statfs st;
    if (statfs(p.bpffs.c_str(), &st) != 0 || st.f_type != BPF_FS_MAGIC)
        throw Error("no BPF filesystem at " + p.bpffs, 0, "mount it: mount -t bpf bpf " + p.bpffs);
}

void mkdir_p(const std::string &dir)
{
    std::string cur;
    size_t i = 0;
    while (i <= dir.size()) {
        size_t next = dir.find('/', i);
        if (next == std::string::npos)
            next = dir.size();
        cur = dir.substr(0, next);
        if (!cur.empty() && mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
            throw Error("cannot create " + cur, errno);
        i = next + 1;
    }
}

bool path_exists(const std::string &path)
{
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> list_dir(const std::string &dir)
{
    std::vector<std::string> out;
    DIR *d = opendir(dir.c_str());
    if (!d)
        return out;
    while (auto *e = readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..")
            out.push_back(n);
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

std::string Paths::instance(const std::string &name) const
{
    if (!valid_instance_name(name))
        throw Error("invalid instance name '" + name + "'", 0,
                    "use letters, digits, '-', '_' and '.' (at most 63)");
    return root() + "/" + name;
}

bool valid_instance_name(const std::string &name)
{
    if (name.empty() || name.size() > 63 || name == "." || name == "..")
        return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
}

PinLock::PinLock(const Paths &p, int timeout_ms)
{
    require_bpffs(p);
    mkdir_p(p.root());
    fd_ = open(p.root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0)
        throw Error("cannot open " + p.root(), errno);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err != EWOULDBLOCK || std::chrono::steady_clock::now() > deadline) {
            close(fd_);
            throw Error("cannot lock " + p.root(), err,
                        "another xdp-ingress attach/detach/reload is running; retry when it ends");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

PinLock::~PinLock()
{
    if (fd_ >= 0)
        close(fd_); // releases the flock
}

} // namespace xi
