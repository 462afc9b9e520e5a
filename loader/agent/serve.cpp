#include "serve.h"

#include <CivetServer.h>
#include <algorithm>
#include <civetweb.h>
#include <csignal>
#include <pthread.h>
#include <cstring>
#include <fstream>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <poll.h>
#include <prometheus/exposer.h>
#include <sstream>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "digest.h"
#include "error.h"
#include "health.h"
#include "instance.h"
#include "json_text.h"
#include "metrics.h"
#include "prober.h"
#include "state.h"

namespace xi
{

namespace
{

// civetweb calls begin_request before its own handlers: /healthz is answered here, on the
// metrics port, everything else goes on to the exposer.
std::function<std::pair<int, std::string>(bool strict)> g_health;

int begin_request(mg_connection *conn)
{
    const mg_request_info *ri = mg_get_request_info(conn);
    if (!ri || !ri->local_uri || std::strcmp(ri->local_uri, "/healthz") != 0 || !g_health)
        return 0;
    bool strict = ri->query_string && std::strstr(ri->query_string, "strict=1");
    auto [code, body] = g_health(strict);
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
              "Connection: close\r\n\r\n%s",
              code, code == 200 ? "OK" : "Service Unavailable", body.size(), body.c_str());
    return code;
}

std::optional<std::string> file_sha(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::stringstream ss;
    ss << in.rdbuf();
    return sha256_hex(ss.str());
}

// A large config's parse tree and compiled tables are freed after an attach or reload, but
// glibc keeps the freed heap mapped: give it back, so the agent idles at its real size
// (tools/bench-ops, 100,000 prefixes and 10,000 rules: idle RSS 138 -> 22 MiB).
void release_memory()
{
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

std::string dir_of(const std::string &path)
{
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

class Agent
{
public:
    explicit Agent(const ServeOptions &o)
        : o_(o), inst_(o.attach.instance.empty() ? o.attach.node : o.attach.instance)
    {
        // Blocked before any thread exists (the HTTP server's threads inherit the mask), so
        // SIGHUP/SIGTERM reach the signalfd instead of killing the process.
        sigemptyset(&signals_);
        for (int s : {SIGHUP, SIGTERM, SIGINT})
            sigaddset(&signals_, s);
        pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    }

    int run()
    {
        ensure_attached();
        start_prober();
        start_http();
        return loop();
    }

private:
    void ensure_attached()
    {
        auto st = load_state(o_.attach.paths.instance(inst_));
        if (!st) {
            AttachOptions a = o_.attach;
            a.instance = inst_;
            auto rep = attach_instance(a);
            for (const auto &n : rep.notes)
                spdlog::warn("{}", n);
            spdlog::info("audit: attach instance={} node={} config={} config_sha256={} "
                         "table_sha256={} generation={}",
                         inst_, rep.state.node, rep.state.config_path, rep.state.config_sha256,
                         rep.state.table_sha256, rep.state.generation);
            applied_ = rep.state.config_sha256;
            node_ = rep.state.node;
            fleet_ = std::move(rep.fleet);
            release_memory();
            return;
        }
        spdlog::info("instance {} already attached (generation {}): taking it over", inst_,
                     st->generation);
        applied_ = st->config_sha256;
        node_ = st->node;
        maybe_reload(false);
    }

    // The sibling prober (issue #14), on the fleet of the last attach or reload; when serve took
    // over an instance whose file had not changed, on that file.
    void start_prober()
    {
        prober_ = std::make_unique<Prober>(o_.attach.paths, inst_);
        if (!fleet_) {
            auto res = load_config(o_.attach.config_path);
            if (res.config) {
                fleet_ = fleet_view(*res.config);
            } else {
                fleet_ = fleet_from_pins(o_.attach.paths.instance(inst_));
                spdlog::warn("failover: {} does not parse: probing the fleet of the running "
                             "generation with the default probe settings until a reload applies "
                             "a good file",
                             o_.attach.config_path);
            }
        }
        if (fleet_)
            prober_->refresh(*fleet_, node_);
        fleet_.reset();
    }

    void start_http()
    {
        g_health = [this](bool strict) {
            auto h = check_health(o_.attach.paths, inst_);
            bool down = withdraw_route(h, strict);
            return std::make_pair(down ? 503 : 200, json_text(h.json()) + "\n");
        };
        CivetCallbacks cb;
        cb.begin_request = begin_request;
        try {
            exposer_ = std::make_unique<prometheus::Exposer>(o_.metrics_addr, 2, &cb);
        } catch (const std::exception &e) {
            throw Error("cannot listen on " + o_.metrics_addr + " (" + e.what() + ")", 0,
                        "pick a free address with --metrics-addr");
        }
        collector_ = std::make_shared<DatapathCollector>(o_.attach.paths, inst_);
        exposer_->RegisterCollectable(collector_);
        spdlog::info("serving /metrics and /healthz on {}", o_.metrics_addr);
    }

    // force: SIGHUP (reload even if the content looks the same).
    void maybe_reload(bool force)
    {
        auto sha = file_sha(o_.attach.config_path);
        if (!sha) { // in the middle of a swap, or gone: the next event or poll tries again
            if (!failed_.empty())
                retry_at_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
            return;
        }
        if (!force && (*sha == applied_ || *sha == rejected_)) {
            failed_.clear(); // the file went back: nothing left to retry
            return;
        }
        if (!force && *sha == failed_ && std::chrono::steady_clock::now() < retry_at_)
            return;
        try {
            auto rep = reload_instance({o_.attach.paths, o_.attach.config_path, inst_});
            log_reload(rep);
            applied_ = rep.state.config_sha256;
            if (prober_)
                prober_->refresh(rep.fleet, rep.state.node);
            else
                fleet_ = std::move(rep.fleet);
            rejected_.clear();
            failed_.clear();
            backoff_s_ = 0;
        } catch (const ConfigErrors &e) {
            failed_.clear();
            mark_rejected(*sha);
            for (const auto &err : e.errors)
                spdlog::error("reload rejected, previous policy kept: {}", err.str());
            spdlog::warn("audit: reload instance={} config={} result=rejected errors={}", inst_,
                         o_.attach.config_path, e.errors.size());
        } catch (const Error &e) {
            // Not the file's fault (the lock busy, the mesh interface missing, out of memory):
            // the same content is tried again, after 1, 2, 4 ... 60 s.
            backoff_s_ = failed_ == *sha ? std::min(backoff_s_ * 2, 60.0) : 1.0;
            failed_ = *sha;
            retry_at_ = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int>(backoff_s_ * 1000));
            spdlog::error("reload failed, previous policy kept, retrying in {} s: {}", backoff_s_,
                          e.full());
            spdlog::warn("audit: reload instance={} config={} result=failed", inst_,
                         o_.attach.config_path);
        }
        release_memory();
    }

    // The reload reads the file itself, after `sha` was taken: a writer in between (a
    // vim-style save, another swap) may have handed it other bytes, or none. Remember `sha` as
    // rejected only if the file still has it; otherwise the next check (the writer's events
    // are queued) tries again, so a good file is never skipped as "already rejected".
    void mark_rejected(const std::string &sha)
    {
        auto now = file_sha(o_.attach.config_path);
        rejected_ = now && *now == sha ? sha : std::string();
    }

    int loop()
    {
        int sfd = signalfd(-1, &signals_, SFD_CLOEXEC);
        ifd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (ifd_ < 0)
            spdlog::warn("inotify unavailable ({}): relying on polling every {} s",
                         std::strerror(errno), o_.poll_interval_s);
        arm_watch();
        using Clock = std::chrono::steady_clock;
        auto next_poll = Clock::now();
        // The file checks run on deadlines, not on a quiet poll: the prober's datagrams wake
        // the loop several times a second and must not postpone a debounced reload.
        bool pending = false;
        Clock::time_point settle_at{}, rearm_at = Clock::now();
        int rc = 0;
        const auto poll_every = std::chrono::milliseconds(int(o_.poll_interval_s * 1000));
        for (;;) {
            std::vector<pollfd> fds = {{sfd, POLLIN, 0}, {ifd_, POLLIN, 0}};
            for (int pfd : prober_->fds())
                fds.push_back({pfd, POLLIN, 0});
            // After a burst of events, wait until the writer is done (debounce), then check.
            // Without a watch (the directory is gone or was replaced), look again every second.
            bool unwatched = ifd_ >= 0 && wd_ < 0;
            if (unwatched && rearm_at < Clock::now() - std::chrono::seconds(1))
                rearm_at =
                    Clock::now() + std::min<Clock::duration>(poll_every, std::chrono::seconds(1));
            int timeout = ms_until(next_poll);
            if (pending)
                timeout = std::min(timeout, ms_until(settle_at));
            if (unwatched)
                timeout = std::min(timeout, ms_until(rearm_at));
            if (!failed_.empty())
                timeout = std::min(timeout, ms_until(retry_at_));
            if (int p = prober_->timeout_ms(); p >= 0)
                timeout = std::min(timeout, p);
            int n = ::poll(fds.data(), fds.size(), timeout);
            auto now = Clock::now();
            for (size_t i = 2; n > 0 && i < fds.size(); i++)
                if (fds[i].revents & POLLIN)
                    prober_->on_readable(fds[i].fd);
            prober_->tick();
            if (n > 0 && (fds[0].revents & POLLIN)) {
                signalfd_siginfo si{};
                if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                    if (si.ssi_signo == SIGHUP) {
                        spdlog::info("SIGHUP: reloading {}", o_.attach.config_path);
                        maybe_reload(true);
                    } else {
                        spdlog::info("signal {}: stopping", strsignal(si.ssi_signo));
                        break;
                    }
                }
            }
            if (n > 0 && (fds[1].revents & POLLIN)) {
                drain_events();
                pending = true;
                settle_at = now + std::chrono::milliseconds(150);
                continue;
            }
            if ((pending && now >= settle_at) || (unwatched && now >= rearm_at)) {
                pending = false;
                rearm_at = now + std::min<Clock::duration>(poll_every, std::chrono::seconds(1));
                arm_watch(); // the directory may have been replaced: watch the new one
                maybe_reload(false);
            }
            if (!failed_.empty() && now >= retry_at_)
                maybe_reload(false);
            if (now >= next_poll) {
                maybe_reload(false);
                next_poll = now + poll_every;
            }
        }
        exposer_.reset();
        prober_.reset(); // before a detach: it writes into the pins
        if (o_.detach_on_exit) {
            auto rep = detach_instance(o_.attach.paths, inst_);
            spdlog::info("audit: detach instance={} removed={}", inst_, rep.removed.size());
        } else {
            spdlog::info("leaving instance {} attached (the pins keep the datapath running)",
                         inst_);
        }
        if (ifd_ >= 0)
            close(ifd_);
        close(sfd);
        return rc;
    }

    // The directory, not the file: rename-on-save replaces the file's inode, and a ConfigMap
    // update swaps the "..data" symlink next to it. The directory itself can be replaced too
    // (renamed over, or deleted and created again): the watch stays with the old inode, or the
    // kernel drops it (IN_IGNORED). So the watch is checked against what the path names now
    // before every content check, and set again on the directory found there.
    void arm_watch()
    {
        if (ifd_ < 0)
            return;
        const std::string dir = dir_of(o_.attach.config_path);
        struct stat sb {
        };
        if (stat(dir.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            if (wd_ >= 0 || !watch_lost_logged_)
                spdlog::warn("{} is gone: looking for it every second", dir);
            drop_watch();
            watch_lost_logged_ = true;
            return;
        }
        if (wd_ >= 0 && sb.st_dev == watched_dev_ && sb.st_ino == watched_ino_)
            return;
        bool rearm = wd_ >= 0 || watch_lost_logged_;
        drop_watch();
        wd_ = inotify_add_watch(ifd_, dir.c_str(),
                                IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MODIFY |
                                    IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF);
        if (wd_ < 0) {
            if (!watch_lost_logged_)
                spdlog::warn("cannot watch {} ({}): trying again every second", dir,
                             std::strerror(errno));
            watch_lost_logged_ = true;
            return;
        }
        watched_dev_ = sb.st_dev;
        watched_ino_ = sb.st_ino;
        watch_lost_logged_ = false;
        if (rearm)
            spdlog::info("watching {} again (the directory was replaced)", dir);
    }

    void drop_watch()
    {
        if (wd_ >= 0)
            inotify_rm_watch(ifd_, wd_); // EINVAL when the kernel dropped it already: fine
        wd_ = -1;
    }

    // Read all queued events; forget the watch if the kernel removed it (directory deleted).
    void drain_events()
    {
        alignas(inotify_event) char buf[4096];
        ssize_t len;
        while ((len = read(ifd_, buf, sizeof(buf))) > 0) {
            for (ssize_t off = 0; off + ssize_t(sizeof(inotify_event)) <= len;) {
                const auto *ev = reinterpret_cast<const inotify_event *>(buf + off);
                if (ev->wd == wd_ && (ev->mask & IN_IGNORED))
                    wd_ = -1;
                off += sizeof(inotify_event) + ev->len;
            }
        }
    }

    ServeOptions o_;
    int ifd_ = -1, wd_ = -1;
    dev_t watched_dev_ = 0;
    ino_t watched_ino_ = 0;
    bool watch_lost_logged_ = false;
    sigset_t signals_;
    std::string inst_;
    std::string applied_, rejected_;
    std::string failed_; // content whose reload failed for a reason outside the file
    std::chrono::steady_clock::time_point retry_at_{};
    double backoff_s_ = 0;

    static int ms_until(std::chrono::steady_clock::time_point t)
    {
        // Rounded up: a deadline less than 1 ms away must not turn into poll(0) until it passes.
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(t - std::chrono::steady_clock::now())
                      .count();
        return static_cast<int>(std::clamp<long long>(ms, 0, 60000));
    }
    std::unique_ptr<prometheus::Exposer> exposer_;
    std::unique_ptr<Prober> prober_;
    std::string node_;
    std::optional<FleetView> fleet_; // the applied fleet until the prober takes it
    std::shared_ptr<DatapathCollector> collector_;
};

} // namespace

int serve(const ServeOptions &o)
{
    Agent a(o);
    return a.run();
}

} // namespace xi
