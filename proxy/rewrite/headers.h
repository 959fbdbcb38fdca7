// Reading and editing NATS header blocks for the rewrites that touch headers.
//
// A block is "NATS/1.0[ <status>[ <description>]]\r\n", then "Name: value\r\n" lines, then
// "\r\n". Names compare case-insensitively (a client may send any case; the server's own
// checks are exact, so matching more widely only makes the sidecar stricter). Edits copy
// every untouched byte as it was, so a block the sidecar does not need to change is
// reproduced exactly. A block that does not parse is reported as such, never guessed at.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace meridian::rewrite {

bool HeaderNameEquals(std::string_view a, std::string_view b);

struct HeaderLine {
  std::string_view name;
  std::string_view value;  // leading and trailing spaces/tabs trimmed
};

// Calls visit(HeaderLine) for each header line, in order; returns false (after visiting
// the lines before it) when the block is malformed. An empty block has no lines and is ok.
template <typename Visit>
bool ForEachHeader(std::string_view block, Visit&& visit);

// The value of the first header called `name`, if the block parses and has one.
std::optional<std::string_view> FindHeader(std::string_view block, std::string_view name);

// Copies `block` into `out`, asking edit(const HeaderLine&, std::string& replacement) for
// each line: kKeep copies it, kDrop omits it, kReplace writes "Name: <replacement>".
// Returns false (out unspecified) when the block is malformed.
enum class HeaderEdit { kKeep, kDrop, kReplace };
template <typename Edit>
bool EditHeaders(std::string_view block, Edit&& edit, std::string& out);

// --- implementation ------------------------------------------------------------------------

namespace detail {
// Splits one header line (without its CRLF) into name and trimmed value.
bool ParseHeaderLine(std::string_view line, HeaderLine& out);
// Length of the status line including its CRLF, or npos when the block does not start with
// "NATS/1.0" and a CRLF.
std::size_t StatusLineLength(std::string_view block);
}  // namespace detail

template <typename Visit>
bool ForEachHeader(std::string_view block, Visit&& visit) {
  if (block.empty()) return true;
  std::size_t pos = detail::StatusLineLength(block);
  if (pos == std::string_view::npos) return false;
  while (true) {
    std::size_t eol = block.find("\r\n", pos);
    if (eol == std::string_view::npos) return false;
    if (eol == pos) return eol + 2 == block.size();  // the terminating empty line
    HeaderLine line;
    if (!detail::ParseHeaderLine(block.substr(pos, eol - pos), line)) return false;
    visit(line);
    pos = eol + 2;
  }
}

template <typename Edit>
bool EditHeaders(std::string_view block, Edit&& edit, std::string& out) {
  out.clear();
  if (block.empty()) return true;
  std::size_t pos = detail::StatusLineLength(block);
  if (pos == std::string_view::npos) return false;
  out.append(block.substr(0, pos));
  // Reused across calls so replacing a value allocates nothing once warmed up.
  thread_local std::string replacement;
  while (true) {
    std::size_t eol = block.find("\r\n", pos);
    if (eol == std::string_view::npos) return false;
    if (eol == pos) {
      out.append("\r\n");
      return eol + 2 == block.size();
    }
    HeaderLine line;
    if (!detail::ParseHeaderLine(block.substr(pos, eol - pos), line)) return false;
    replacement.clear();
    switch (edit(line, replacement)) {
      case HeaderEdit::kKeep:
        out.append(block.substr(pos, eol + 2 - pos));
        break;
      case HeaderEdit::kDrop:
        break;
      case HeaderEdit::kReplace:
        out.append(line.name);
        out.append(": ");
        out.append(replacement);
        out.append("\r\n");
        break;
    }
    pos = eol + 2;
  }
}

}  // namespace meridian::rewrite
