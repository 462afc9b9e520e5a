// The config's top-level settings beyond nodes, VIPs, identities and rules: read by
// parse_config (config_yaml.cpp) into Config, with the Reader's file:line errors.
#pragma once

#include "config.h"
#include "config_reader.h"
#include "yaml_doc.h"

namespace xi
{

// default, reply_only, metadata_block, metadata_extra, metadata_exclude, nat64_prefixes,
// tunnels, unparsed
void read_policy_settings(Reader &r, const yaml::Node &root, Config &c);
// mss, conntrack, events: datapath tuning, each with defaults
void read_tuning(Reader &r, const yaml::Node &root, Config &c);

} // namespace xi
