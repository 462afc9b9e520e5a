// --netns NAME: join only the network namespace (setns CLONE_NEWNET), keep the mount namespace,
// so /sys/fs/bpf pins stay visible (`ip netns exec` would remount /sys and hide them).
#pragma once

#include <string>

namespace xi
{

// "" = the namespace the process started in (a no-op unless an earlier call moved it), so a
// loop over instances - detach --all - handles each one in its own namespace.
void join_netns(const std::string &name); // throws xi::Error
// Whether a namespace NAME (or path) can be opened: false once `ip netns del` removed it.
bool netns_exists(const std::string &name);
// Inode number of the current network namespace (identifies it in the state we record).
unsigned long current_netns_inode();

} // namespace xi
