// Byte-level checks of a config and the file read (load_config): no YAML here.
#include "config_text.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include <fcntl.h>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "config.h"

namespace xi
{

// Where text stops being UTF-8 (yaml-cpp would silently decode UTF-16/32 by their byte order
// marks, and take stray bytes into names), or npos.
size_t invalid_utf8_at(const std::string &text)
{
    size_t i = 0;
    const size_t n = text.size();
    while (i < n) {
        auto c = static_cast<unsigned char>(text[i]);
        size_t len = c < 0x80           ? 1
                     : (c >> 5) == 0x6  ? 2
                     : (c >> 4) == 0xe  ? 3
                     : (c >> 3) == 0x1e ? 4
                                        : 0;
        if (!len || i + len > n)
            return i;
        uint32_t cp = len == 1 ? c : c & (0x7f >> len);
        for (size_t k = 1; k < len; k++) {
            auto cc = static_cast<unsigned char>(text[i + k]);
            if ((cc & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (cc & 0x3f);
        }
        static const uint32_t min_of_len[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_of_len[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i; // overlong, beyond Unicode, or a UTF-16 surrogate
        // YAML's printable set: no C0 control but tab, LF and CR, no DEL, no C1 control but
        // NEL, no U+FFFE/U+FFFF. yaml-cpp takes them (even in comments, where an escape
        // sequence can hide lines from whoever reads the file in a terminal); libyaml does not.
        // A NUL is UTF-16 text, or binary.
        // A CR must end a line with its LF: alone, YAML (and libyaml) break the line there while
        // yaml-cpp keeps reading a comment, and a terminal hides what precedes it (fuzzer).
        if (cp == '\r' && (i + 1 == n || text[i + 1] != '\n'))
            return i;
        if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0x7f ||
            (cp >= 0x80 && cp <= 0x9f && cp != 0x85) || cp == 0xfffe || cp == 0xffff)
            return i;
        i += len;
    }
    return std::string::npos;
}

// The line of a document marker that starts a second document, or 0. Markers are "---" or
// "..." at the start of a line, then a space, a tab or the line's end; they end any scalar, so
// a plain scan finds them. Allowed: one "---" before anything but comments and blank lines,
// and "..." after which there are only comments and blank lines.
int second_document_line(const std::string &text)
{
    bool content = false; // anything but comments and blank lines so far
    int ended_at = 0;     // line of a "..." after content
    int line = 0;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos)
            end = text.size();
        std::string_view l(text.data() + start, end - start);
        line++;
        auto is_marker = [&](const char *m) {
            return l.substr(0, 3) == m &&
                   (l.size() == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\r');
        };
        auto first = l.find_first_not_of(" \t\r");
        bool blank = first == std::string_view::npos || l[first] == '#';
        if (is_marker("---")) {
            if (content || ended_at)
                return line;
            content = true; // the explicit start of the first document (its rest is content)
        } else if (is_marker("...")) {
            if (content)
                ended_at = line;
        } else if (!blank) {
            if (ended_at)
                return line;
            content = true;
        }
        start = end + 1;
    }
    return 0;
}

// The first line whose indentation holds a tab, or 0. YAML indents with spaces only; parsers
// differ on a tab there (found by the fuzzer: "\t# comment" as the first line, which
// yaml-cpp reads and libyaml refuses), so the file must not depend on which one reads it.
int tab_indented_line(const std::string &text)
{
    int line = 1;
    bool indent = true; // still in the line's leading whitespace
    for (char ch : text) {
        if (ch == '\n') {
            line++;
            indent = true;
        } else if (indent && ch == '\t') {
            return line;
        } else if (ch != ' ') {
            indent = false;
        }
    }
    return 0;
}

ConfigResult load_config(const std::string &path)
{
    ConfigResult res;
    auto fail = [&](const std::string &msg) {
        res.errors.push_back({path, {}, msg});
        return res;
    };
    // O_NONBLOCK: opening a FIFO must not wait for a writer. Symlinks are followed (a
    // Kubernetes ConfigMap swaps a symlink), the file they end at must be regular.
    int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return fail(std::string("cannot read: ") + std::strerror(errno));
    struct stat st {
    };
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return fail(std::string("cannot read: ") + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        if (S_ISDIR(st.st_mode))
            return fail("is a directory: give the config file itself");
        const char *kind = S_ISFIFO(st.st_mode)   ? "a FIFO"
                           : S_ISCHR(st.st_mode)  ? "a character device"
                           : S_ISBLK(st.st_mode)  ? "a block device"
                           : S_ISSOCK(st.st_mode) ? "a socket"
                                                  : "not a file";
        return fail(std::string("not a regular file (") + kind + "): give the config file itself");
    }
    if (static_cast<uint64_t>(st.st_size) > kMaxConfigBytes) {
        close(fd);
        return fail(std::to_string(st.st_size) + " bytes, more than a config can be (at most " +
                    std::to_string(kMaxConfigBytes) + ")");
    }
    std::string text;
    text.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < text.size()) {
        ssize_t n = read(fd, text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            return fail(std::string("cannot read: ") + std::strerror(err));
        }
        if (n == 0)
            break; // shrunk while read: parse what is there, the hash says which bytes
        got += static_cast<size_t>(n);
    }
    close(fd);
    text.resize(got);
    return parse_config(text, path);
}

// What is wrong with the text before any YAML is read (not printable UTF-8, a tab in the
// indentation, a second document), or nothing.
std::optional<ConfigError> text_error(const std::string &text, const std::string &file)
{
    if (auto at = invalid_utf8_at(text); at != std::string::npos) {
        int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
        auto byte = static_cast<unsigned char>(text[at]);
        char hex[8];
        std::snprintf(hex, sizeof(hex), "0x%02x", byte);
        // A NUL is UTF-16 text or binary, any other control character an edit gone wrong.
        const bool control = byte != 0 && (byte < 0x20 || byte == 0x7f) && byte != '\r';
        return ConfigError{file,
                           {line, 0},
                           control
                               ? std::string("a control character (") + hex + ", byte " +
                                     std::to_string(at) + "): YAML allows none, comments included"
                           : byte == '\r' ? "a carriage return without a line feed (byte " +
                                                std::to_string(at) + "): end lines with LF or CR LF"
                                          : "not UTF-8 text (byte " + std::to_string(at) +
                                                "): save the file as UTF-8"};
    }
    if (int line = tab_indented_line(text)) {
        return ConfigError{
            file, {line, 1}, "a tab in the indentation: YAML indents with spaces only"};
    }
    // One document, by its markers, before any parsing: the same sentence whichever parser.
    if (int line = second_document_line(text)) {
        return ConfigError{file,
                           {line, 1},
                           "a second YAML document ('---'): a config is one document, and "
                           "nothing after the first would be read"};
    }
    return std::nullopt;
}

} // namespace xi
