#include "yaml_doc.h"

#include <yaml.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace xi::yaml
{

const Node *Node::get(std::string_view key) const
{
    if (kind_ != Kind::Map)
        return nullptr;
    for (size_t i = 0; i < kids_.size(); i += 2)
        if (kids_[i]->kind_ == Kind::Scalar && kids_[i]->value_ == key)
            return kids_[i + 1];
    return nullptr;
}

namespace
{

Pos pos_of(const yaml_mark_t &m)
{
    return {static_cast<int>(m.line) + 1, static_cast<int>(m.column) + 1};
}

// yaml-cpp's and YAML 1.1's reading: an untagged plain "", "~" or null is no value at all, so
// `vips:` with nothing after it means no VIPs, and `name: ~` is not the name "~".
bool plain_null(const yaml_event_t &e)
{
    const auto &s = e.data.scalar;
    if (s.tag) {
        return std::strcmp(reinterpret_cast<const char *>(s.tag), "tag:yaml.org,2002:null") == 0;
    }
    if (s.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    std::string_view v(reinterpret_cast<const char *>(s.value), s.length);
    return v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL";
}

} // namespace

class Builder
{
public:
    Builder(Document &doc, Pos &err_pos, std::string &err) : doc_(doc), pos_(err_pos), err_(err) {}

    // One event; false when the document is refused (err_ set).
    bool on(const yaml_event_t &e)
    {
        switch (e.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (documents_++ > 0)
                return fail(e.start_mark, "a second YAML document: a config is one document, "
                                          "and nothing after the first would be read");
            return true;
        case YAML_ALIAS_EVENT: {
            auto it = anchors_.find(reinterpret_cast<const char *>(e.data.alias.anchor));
            if (it == anchors_.end())
                return fail(e.start_mark, "an alias to an anchor never defined");
            if (!it->second->complete_)
                return fail(e.start_mark, "an alias to a node that contains it");
            return add(it->second, e.start_mark);
        }
        case YAML_SCALAR_EVENT: {
            Node &n = make(e.start_mark, e.data.scalar.anchor);
            if (plain_null(e)) {
                n.kind_ = Node::Kind::Null;
            } else {
                n.kind_ = Node::Kind::Scalar;
                n.value_.assign(reinterpret_cast<const char *>(e.data.scalar.value),
                                e.data.scalar.length);
            }
            n.complete_ = true;
            return add(&n, e.start_mark);
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            if (static_cast<int>(open_.size()) >= kMaxDepth)
                return fail(e.start_mark,
                            "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
            Node &n = make(e.start_mark, e.type == YAML_SEQUENCE_START_EVENT
                                             ? e.data.sequence_start.anchor
                                             : e.data.mapping_start.anchor);
            n.kind_ = e.type == YAML_SEQUENCE_START_EVENT ? Node::Kind::Sequence : Node::Kind::Map;
            open_.push_back(&n);
            return true;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            Node *n = open_.back();
            open_.pop_back();
            if (n->kind_ == Node::Kind::Map && !unique_keys(*n))
                return false;
            n->complete_ = true;
            return add(n, e.start_mark);
        }
        default:
            return true;
        }
    }

    bool fail(const yaml_mark_t &m, std::string why) { return fail_at(pos_of(m), std::move(why)); }

private:
    Node &make(const yaml_mark_t &m, const yaml_char_t *anchor)
    {
        Node &n = doc_.nodes.emplace_back();
        n.pos_ = pos_of(m);
        if (anchor) // a redefined anchor names the newest node from then on (YAML 1.2)
            anchors_[reinterpret_cast<const char *>(anchor)] = &n;
        return n;
    }

    // Appends a finished node to the open container (or makes it the root) and adds its weight.
    bool add(const Node *n, const yaml_mark_t &m)
    {
        if (open_.empty()) {
            doc_.root = n;
            return true;
        }
        Node *parent = open_.back();
        parent->kids_.push_back(n);
        parent->weight_ = std::min(parent->weight_ + n->weight_, kMaxNodes + 1);
        if (parent->weight_ > kMaxNodes)
            return fail(m, "the document expands (through aliases) to more than " +
                               std::to_string(kMaxNodes) + " nodes");
        return true;
    }

    // yaml-cpp kept both of a key given twice, and `node[key]` gave the first: `action: allow,
    // action: deny` allowed. Refused here, with both lines.
    bool unique_keys(const Node &map)
    {
        const size_t pairs = map.size();
        for (size_t i = 0; i < pairs; i++)
            if (!map.key(i).is_scalar())
                return fail_at(map.key(i).pos(), "a key must be a plain string");
        auto dup = [&](size_t first, size_t again) {
            const Node &k = map.key(again);
            return fail_at(k.pos(), "duplicate key '" + k.scalar() + "' (first at line " +
                                        std::to_string(map.key(first).pos().line) +
                                        "): YAML would silently keep one of them");
        };
        if (pairs <= 16) { // a rule, a node, a VIP: a hash table costs more than it saves
            for (size_t i = 1; i < pairs; i++)
                for (size_t j = 0; j < i; j++)
                    if (map.key(i).scalar() == map.key(j).scalar())
                        return dup(j, i);
            return true;
        }
        std::unordered_map<std::string_view, size_t> seen;
        seen.reserve(pairs);
        for (size_t i = 0; i < pairs; i++)
            if (auto [it, fresh] = seen.emplace(map.key(i).scalar(), i); !fresh)
                return dup(it->second, i);
        return true;
    }

    bool fail_at(Pos p, std::string why)
    {
        pos_ = p;
        err_ = std::move(why);
        return false;
    }

    Document &doc_;
    Pos &pos_;
    std::string &err_;
    std::vector<Node *> open_;
    std::unordered_map<std::string, Node *> anchors_;
    int documents_ = 0;
};

bool parse(const std::string &text, Document &doc, Pos &err_pos, std::string &err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        err_pos = {};
        err = "out of memory";
        return false;
    }
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char *>(text.data()),
                                 text.size());
    Builder b(doc, err_pos, err);
    bool ok = true;
    for (bool done = false; ok && !done;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&parser, &e)) {
            // "did not find expected key (while parsing a block mapping)", at the problem.
            err_pos = pos_of(parser.problem_mark);
            err = std::string("YAML syntax: ") + (parser.problem ? parser.problem : "error");
            if (parser.context)
                err += std::string(" (") + parser.context + " at line " +
                       std::to_string(parser.context_mark.line + 1) + ")";
            ok = false;
            break;
        }
        done = e.type == YAML_STREAM_END_EVENT;
        ok = b.on(e);
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&parser);
    return ok;
}

} // namespace xi::yaml
