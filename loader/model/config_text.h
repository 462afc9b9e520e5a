// The config as bytes and as a file, before any YAML: what must hold of the text whichever
// YAML parser reads it (printable UTF-8, one document, spaces for indentation).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "config.h"

namespace xi
{

// Where text stops being printable UTF-8, or npos.
size_t invalid_utf8_at(const std::string &text);
// The line of a document marker that starts a second document, or 0.
int second_document_line(const std::string &text);
// The first line whose indentation holds a tab, or 0.
int tab_indented_line(const std::string &text);
// The first of the above that applies, as the error parse_config reports, or nothing.
std::optional<ConfigError> text_error(const std::string &text, const std::string &file);

} // namespace xi
