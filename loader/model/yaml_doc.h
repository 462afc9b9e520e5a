// One YAML document as a read-only tree, built from libyaml's event parser (Debian's libyaml,
// C): the config reader's input. yaml-cpp read the 3.2 MB benchmark config in ~1 s of CPU,
// libyaml's events plus this tree in ~0.2 s (docs/benchmarks.md).
//
// What the tree refuses while it is built, so no reader ever sees it: a key given twice in one
// mapping, a key that is not a plain string, a second document, nesting past kMaxDepth, an
// alias to an unknown anchor or to a node that contains it, and aliases that expand the
// document past kMaxNodes (a "billion laughs" file).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace xi::yaml
{

class Node
{
public:
    enum class Kind : uint8_t { Null, Scalar, Sequence, Map };

    Kind kind() const { return kind_; }
    bool is_null() const { return kind_ == Kind::Null; }
    bool is_scalar() const { return kind_ == Kind::Scalar; }
    bool is_sequence() const { return kind_ == Kind::Sequence; }
    bool is_map() const { return kind_ == Kind::Map; }
    Pos pos() const { return pos_; }
    // A scalar's text ("" for anything else).
    const std::string &scalar() const { return value_; }
    // Items of a sequence, pairs of a map; 0 for a scalar or null.
    size_t size() const { return kind_ == Kind::Map ? kids_.size() / 2 : kids_.size(); }
    const Node &item(size_t i) const { return *kids_[i]; }
    const Node &key(size_t i) const { return *kids_[2 * i]; }
    const Node &value(size_t i) const { return *kids_[2 * i + 1]; }
    // The value of a map's key, or nullptr (also when this is not a map).
    const Node *get(std::string_view key) const;

private:
    friend class Builder;
    Kind kind_ = Kind::Null;
    Pos pos_;
    std::string value_;
    std::vector<const Node *> kids_; // map: key, value, key, value...
    uint64_t weight_ = 1;            // nodes after expanding aliases, saturating
    bool complete_ = false;          // an alias may only name a complete node
};

struct Document {
    const Node *root = nullptr; // nullptr: an empty file
    std::deque<Node> nodes;     // stable addresses, few allocations
};

// 20x the largest documented-valid config (10,000 rules, 100,000 prefixes, 64 edges).
constexpr uint64_t kMaxNodes = 20'000'000;
constexpr int kMaxDepth = 64; // a config nests 4 deep

// Parses text. On failure returns false with where and why (pos 1-based).
bool parse(const std::string &text, Document &doc, Pos &err_pos, std::string &err);

} // namespace xi::yaml
