// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The encapsulation chain's namespace scaffolding (encap_chain_netns.h): commands and packet
// sockets.
#include "encap_chain_netns.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>

namespace xi::test::chain
{

std::string sh(const std::string &cmd)
{
    FILE *p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p)
        throw std::runtime_error("popen failed: " + cmd);
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof(buf), p))
        out += buf;
    int st = pclose(p);
    if (st != 0)
        throw std::runtime_error(cmd + " failed (" + std::to_string(st) + "): " + out);
    return out;
}

[[noreturn]] void fail_errno(const std::string &what)
{
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

Fd packet_socket(const std::string &ifname, uint16_t proto)
{
    // Protocol 0 until bound: an ETH_P_ALL socket would queue every device's frames meanwhile.
    Fd fd(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
    if (fd.get() < 0)
        fail_errno("socket(AF_PACKET)");
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(proto);
    sll.sll_ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
    if (!sll.sll_ifindex)
        fail_errno("if_nametoindex " + ifname);
    if (bind(fd.get(), reinterpret_cast<sockaddr *>(&sll), sizeof(sll)) != 0)
        fail_errno("bind AF_PACKET to " + ifname);
    return fd;
}

void send_frame(int fd, const Bytes &frame)
{
    if (send(fd, frame.data(), frame.size(), 0) != static_cast<ssize_t>(frame.size()))
        fail_errno("send");
}

} // namespace xi::test::chain
