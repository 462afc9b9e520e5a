// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The packet fuzzer's body (issue #12): one input = which program + a frame. It runs through
// that program of a loaded datapath with BPF_PROG_TEST_RUN, and what each hook's design says
// must hold is checked on every run. The invariants, per hook:
//
//   every hook   test_run succeeds (no program error); the verdict is one the hook may give;
//                a drop verdict comes with a drop reason counted at the hook and a pass
//                verdict with none.
//   xdp_public   XDP_PASS or XDP_DROP; every frame counted at least once at the hook; a
//                passed frame leaves unchanged (the tc hand-off never rewrites in XDP).
//   tc public    ingress: pass, drop or redirect; every frame counted. A redirect is
//   ingress      steering: the output is an outer IPv4/IPv6 header (IPIP / IP6IP6, DF on
//                IPv4) carrying the input's IP datagram, VLAN tags and Ethernet padding gone,
//                unchanged but for a SYN's MSS option (clamped) and its checksum.
//   tc public    always passes; counts only mss_clamped, and leaves the frame unchanged unless
//   egress       it counted one (then only a SYN-ACK's MSS option and checksum change).
//   mesh hooks   pass or drop, every frame counted; with metadata blocking on, a frame passed
//                as policy-checked IP (not pass_not_ip, pass_vlan_depth, pass_exthdr, decap)
//                has no metadata source or destination, and no tunnel the hook looks into
//                (GRE, VXLAN 4789/8472, Geneve 6081; IP in IP leaving) carries a packet to a
//                metadata address. A passed frame leaves unchanged but for an MSS clamp.
//                Mesh ingress: what it passes carries the guard's mark; it redirects only a
//                second chance (counted second_chance_out): the decapsulated datagram, wrapped
//                again (same family and size), marked, otherwise unchanged.
//   guard hooks  (ingress and egress, fed marked frames) pass or drop; a pass counts nothing
//                (or pass_vlan_depth / pass_exthdr), leaves the frame and the mark unchanged,
//                and is not bound for a metadata address.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace xi::fuzz
{

// "" when every invariant held, else which one broke and how. Loads the datapath on first use
// (needs CAP_BPF and CAP_NET_ADMIN; throws without them).
std::string check_packet_bytes(const uint8_t *data, size_t size);

} // namespace xi::fuzz
