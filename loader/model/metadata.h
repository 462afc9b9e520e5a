// The cloud metadata services the mesh denies by default, and every spelling of their
// addresses a packet can carry. docs/policy.md lists the sources and what is left out.
#pragma once

#include <string>
#include <vector>

#include "config.h"
#include "netaddr.h"

namespace xi
{

struct MetadataEndpoint {
    const char *address;
    const char *service; // who answers there, for docs and `validate` messages
};

// Built in, denied unless the config's metadata_exclude names the address.
const std::vector<MetadataEndpoint> &metadata_endpoints();
// Their addresses, in the order above, as text and as host prefixes.
const std::vector<std::string> &metadata_addresses();
const std::vector<Prefix> &builtin_metadata_prefixes();
// Whether the config's metadata_exclude names this built-in prefix.
bool metadata_excluded(const Config &c, const Prefix &builtin);

// RFC 6052's well-known NAT64 prefix, always translated; configs add their own.
constexpr const char *kNat64WellKnown = "64:ff9b::/96";
// Why a NAT64 prefix cannot embed IPv4 (RFC 6052 2.2: /32, /40, /48, /56, /64 or /96, IPv6),
// or "".
std::string nat64_prefix_problem(const Prefix &p);

// The metadata prefixes of c as configured: built-ins not excluded, then metadata_extra.
std::vector<Prefix> metadata_prefixes(const Config &c);
// The IPv6 spellings of the IPv4 prefix v4 that reach the same service through a translator
// or a lax stack: IPv4-compatible (::a.b.c.d) and the NAT64 form under every prefix in nat64
// (RFC 6052 2.2, octet 64-71 left zero). IPv4-mapped needs none: every table keys IPv4 so.
std::vector<Prefix> ipv6_forms_of(const Prefix &v4, const std::vector<Prefix> &nat64);
// metadata_prefixes(c) and the IPv6 forms of each IPv4 one, under the well-known NAT64
// prefix and c.nat64_prefixes: what the identity table flags as metadata.
std::vector<Prefix> metadata_prefixes_all_forms(const Config &c);

} // namespace xi
