// The YAML tree the config reader walks (loader/model/yaml_doc.h): what it reads, and what it
// refuses before any reader could see it.
#include <gtest/gtest.h>

#include "yaml_doc.h"

namespace xi::yaml
{
namespace
{

// "LINE:COL: why" of a refused text, or "" when it parsed.
std::string refusal(const std::string &text)
{
    Document doc;
    Pos at;
    std::string why;
    if (parse(text, doc, at, why))
        return "";
    return std::to_string(at.line) + ":" + std::to_string(at.col) + ": " + why;
}

TEST(YamlDoc, ScalarsMapsSequencesAndTheirPositions)
{
    Document doc;
    Pos at;
    std::string why;
    ASSERT_TRUE(parse("a: x\nlist:\n  - 1\n  - 'two'\n", doc, at, why)) << why;
    ASSERT_TRUE(doc.root && doc.root->is_map());
    EXPECT_EQ(doc.root->size(), 2u);
    EXPECT_EQ(doc.root->get("a")->scalar(), "x");
    const Node *list = doc.root->get("list");
    ASSERT_TRUE(list && list->is_sequence());
    ASSERT_EQ(list->size(), 2u);
    EXPECT_EQ(list->item(1).scalar(), "two");
    EXPECT_EQ(list->item(1).pos().line, 4);
    EXPECT_EQ(list->item(1).pos().col, 5);
    EXPECT_EQ(doc.root->key(1).pos().line, 2);
    EXPECT_EQ(doc.root->get("missing"), nullptr);
    EXPECT_EQ(list->get("a"), nullptr); // not a map
}

TEST(YamlDoc, PlainNullFormsAreNoValueQuotedOnesAreText)
{
    Document doc;
    Pos at;
    std::string why;
    ASSERT_TRUE(
        parse("a: ~\nb: '~'\nc:\nd: null\ne: !!null x\nf: \"null\"\ng: NULL\n", doc, at, why))
        << why;
    for (const char *k : {"a", "c", "d", "e", "g"})
        EXPECT_TRUE(doc.root->get(k)->is_null()) << k;
    EXPECT_EQ(doc.root->get("b")->scalar(), "~");
    EXPECT_EQ(doc.root->get("f")->scalar(), "null");
}

TEST(YamlDoc, EmptyTextHasNoRoot)
{
    Document doc;
    Pos at;
    std::string why;
    ASSERT_TRUE(parse("# only a comment\n", doc, at, why));
    EXPECT_EQ(doc.root, nullptr);
}

TEST(YamlDoc, AliasesShareTheAnchoredNode)
{
    Document doc;
    Pos at;
    std::string why;
    ASSERT_TRUE(parse("a: &x [1, 2]\nb: *x\n", doc, at, why)) << why;
    EXPECT_EQ(doc.root->get("a"), doc.root->get("b"));
    EXPECT_EQ(doc.root->get("b")->size(), 2u);
}

TEST(YamlDoc, DuplicateKeysInSmallAndLargeMaps)
{
    EXPECT_EQ(refusal("a: 1\nb: 2\na: 3\n"),
              "3:1: duplicate key 'a' (first at line 1): YAML would silently keep one of them");
    std::string big;
    for (int i = 0; i < 40; i++)
        big += "k" + std::to_string(i) + ": 1\n";
    EXPECT_EQ(refusal(big), "");
    EXPECT_EQ(refusal(big + "k7: 2\n"),
              "41:1: duplicate key 'k7' (first at line 8): YAML would silently keep one of them");
}

TEST(YamlDoc, KeysArePlainStrings)
{
    EXPECT_EQ(refusal("? [a, b]\n: 1\n"), "1:3: a key must be a plain string");
    EXPECT_EQ(refusal("~: 1\n"), "1:1: a key must be a plain string");
    EXPECT_EQ(refusal("{a: 1}: 2\n"), "1:1: a key must be a plain string");
}

TEST(YamlDoc, AliasesMustNameAFinishedNode)
{
    EXPECT_EQ(refusal("a: *nowhere\n"), "1:4: an alias to an anchor never defined");
    EXPECT_EQ(refusal("a: &x [1, *x]\n"), "1:11: an alias to a node that contains it");
    EXPECT_EQ(refusal("a: &x {b: *x}\n"), "1:11: an alias to a node that contains it");
}

TEST(YamlDoc, AliasExpansionIsBoundedBeforeAnyReaderWalksIt)
{
    // Nine levels of ten aliases each: 10^9 nodes once expanded, a few hundred bytes of text.
    std::string text = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 9; i++) {
        std::string prev = "*l" + std::to_string(i - 1);
        text += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
        for (int j = 0; j < 10; j++)
            text += (j ? ", " : "") + prev;
        text += "]\n";
    }
    auto why = refusal(text);
    EXPECT_NE(why.find("expands (through aliases) to more than 20000000 nodes"), std::string::npos)
        << why;
    // Under the bound, the same shape is fine: 10^6 nodes.
    text.resize(text.find("l6:"));
    EXPECT_EQ(refusal(text), "");
}

TEST(YamlDoc, NestingIsBounded)
{
    auto nested = [](int depth) {
        return std::string(depth, '[') + "x" + std::string(depth, ']') + "\n";
    };
    EXPECT_EQ(refusal(nested(kMaxDepth)), "");
    EXPECT_EQ(refusal(nested(kMaxDepth + 1)), "1:65: nesting deeper than 64 levels");
    // Far past any bound: refused at the same place, not by running out of stack.
    EXPECT_EQ(refusal(nested(100000)), "1:65: nesting deeper than 64 levels");
}

TEST(YamlDoc, OneDocumentOnly)
{
    EXPECT_EQ(refusal("a: 1\n---\nb: 2\n"),
              "2:1: a second YAML document: a config is one document, and nothing after the "
              "first would be read");
    // After an end marker, YAML wants a new document's start: bare content is a syntax error.
    EXPECT_EQ(refusal("a: 1\n...\nb: 2\n"),
              "3:1: YAML syntax: did not find expected <document start>");
    EXPECT_EQ(refusal("a: 1\n...\n"), "");
}

TEST(YamlDoc, SyntaxErrorsSayWhereAndWhat)
{
    EXPECT_EQ(refusal("a: [1, 2\n"), "2:1: YAML syntax: did not find expected ',' or ']' (while "
                                     "parsing a flow sequence at line 1)");
    EXPECT_EQ(refusal("a: 1\n b: 2\n"),
              "2:3: YAML syntax: mapping values are not allowed in this context");
}

} // namespace
} // namespace xi::yaml
