// Taking an instance apart: its pins, the clsact qdiscs it created, its hooks (detach, and the
// rollback of an attach that failed half way). kernel/ internal, shared by instance.cpp and
// teardown.cpp.
#pragma once

#include <string>
#include <vector>

#include "attach.h"
#include "state.h"

namespace xi
{

// Everything in the instance directory is ours: links, maps, the state map.
void remove_pins(const std::string &dir, std::vector<std::string> *removed);
// Destroy the clsact qdiscs we created once none of our filters use them any more.
void drop_created_qdiscs(const std::vector<Attachment> &atts);
// "xdp", "tc ingress", "tc egress"
const char *hook_label(uint8_t hook);

// Takes off whatever an attach that failed half way put in place: its hooks, the clsact qdiscs
// it created, its pins.
struct AttachRollback {
    std::string dir;
    InstanceState &st;
    bool done = false;
    ~AttachRollback();
};

} // namespace xi
