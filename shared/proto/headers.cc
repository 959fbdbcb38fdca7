#include "proto/headers.h"

#include <cstring>

namespace meridian::proto {
namespace {

constexpr std::string_view kVersion = "NATS/1.0";
constexpr std::string_view kEmptyBlock = "NATS/1.0\r\n\r\n";

inline bool IsSpace(char c) {
  return c == ' ' || c == '\t';
}

// A header name character: visible ASCII except ':'.
inline bool IsNameChar(char c) {
  return c > 32 && c < 127 && c != ':';
}

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

bool ValidValue(std::string_view value) {
  return value.find_first_of("\r\n") == std::string_view::npos;
}

inline char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

bool EqualIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// Parses the status part of the first line (what follows `NATS/1.0`).
HeaderError ParseStatus(std::string_view rest, int* status, std::string_view* description) {
  *status = 0;
  *description = {};
  if (rest.empty()) return HeaderError::kNone;
  if (!IsSpace(rest.front())) return HeaderError::kBadStatus;
  while (!rest.empty() && IsSpace(rest.front())) rest.remove_prefix(1);
  while (!rest.empty() && IsSpace(rest.back())) rest.remove_suffix(1);
  if (rest.empty()) return HeaderError::kNone;
  if (rest.size() < 3) return HeaderError::kBadStatus;
  int code = 0;
  for (size_t i = 0; i < 3; ++i) {
    if (rest[i] < '0' || rest[i] > '9') return HeaderError::kBadStatus;
    code = code * 10 + (rest[i] - '0');
  }
  if (code < 100) return HeaderError::kBadStatus;  // "035" is not a status
  rest.remove_prefix(3);
  if (!rest.empty()) {
    if (!IsSpace(rest.front())) return HeaderError::kBadStatus;
    while (!rest.empty() && IsSpace(rest.front())) rest.remove_prefix(1);
  }
  *status = code;
  *description = rest;
  return HeaderError::kNone;
}

// Checks one header line (without its `\r\n`).
HeaderError CheckLine(std::string_view line) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return HeaderError::kBadLine;
  for (size_t i = 0; i < colon; ++i) {
    if (!IsNameChar(line[i])) return HeaderError::kBadLine;
  }
  for (size_t i = colon + 1; i < line.size(); ++i) {
    if (line[i] == '\n' || line[i] == '\r') return HeaderError::kBadLine;
  }
  return HeaderError::kNone;
}

// Splits a validated header line starting at `pos` into name and value; returns the offset of
// the next line.
size_t LoadField(std::string_view block, size_t pos, HeaderField* field) {
  const size_t eol = block.find("\r\n", pos);
  const size_t colon = block.find(':', pos);
  field->name = block.substr(pos, colon - pos);
  size_t v = colon + 1;
  while (v < eol && IsSpace(block[v])) ++v;
  field->value = block.substr(v, eol - v);
  return eol + 2;
}

}  // namespace

std::string_view HeaderErrorText(HeaderError error) {
  switch (error) {
    case HeaderError::kNone:
      return "the header block is valid";
    case HeaderError::kMissingVersion:
      return "the header block does not start with NATS/1.0";
    case HeaderError::kBadStatus:
      return "the header block's first line is not NATS/1.0 [<3-digit status> [description]]";
    case HeaderError::kBadLine:
      return "a header line is not <Name>: <value> (missing ':', empty name, whitespace or "
             "control bytes in the name, or a blank line before the end)";
    case HeaderError::kMissingTerminator:
      return "the header block does not end with an empty line (\\r\\n\\r\\n)";
    case HeaderError::kInvalidName:
      return "a header name must be non-empty visible ASCII without ':' or whitespace";
    case HeaderError::kInvalidValue:
      return "a header value must not contain \\r or \\n";
  }
  return "unknown header error";
}

HeaderError HeaderView::Parse(std::string_view block, HeaderView* out) {
  if (block.substr(0, kVersion.size()) != kVersion) return HeaderError::kMissingVersion;
  const size_t first_eol = block.find("\r\n");
  if (first_eol == std::string_view::npos) return HeaderError::kMissingTerminator;
  if (block.substr(0, first_eol).find_first_of("\r\n") != std::string_view::npos) {
    return HeaderError::kBadStatus;
  }
  int status;
  std::string_view description;
  const HeaderError status_error = ParseStatus(
      block.substr(kVersion.size(), first_eol - kVersion.size()), &status, &description);
  if (status_error != HeaderError::kNone) return status_error;
  if (block.size() < 4 || block.substr(block.size() - 4) != "\r\n\r\n" ||
      block.size() < first_eol + 4) {
    return HeaderError::kMissingTerminator;
  }
  const size_t end = block.size() - 2;  // offset of the final blank line
  size_t pos = first_eol + 2;
  while (pos < end) {
    const size_t eol = block.find("\r\n", pos);    // found: the block ends with \r\n
    if (eol == pos) return HeaderError::kBadLine;  // blank line before the end
    const HeaderError line_error = CheckLine(block.substr(pos, eol - pos));
    if (line_error != HeaderError::kNone) return line_error;
    pos = eol + 2;
  }
  if (pos != end) return HeaderError::kMissingTerminator;
  out->block_ = block;
  out->first_field_ = first_eol + 2;
  out->status_ = status;
  out->description_ = description;
  return HeaderError::kNone;
}

HeaderView::Iterator::Iterator(std::string_view block, size_t pos) : block_(block), pos_(pos) {
  Load();
}

void HeaderView::Iterator::Load() {
  if (block_.size() >= 2 && pos_ < block_.size() - 2) next_ = LoadField(block_, pos_, &field_);
}

HeaderView::Iterator& HeaderView::Iterator::operator++() {
  pos_ = next_;
  Load();
  return *this;
}

HeaderView::Iterator HeaderView::begin() const {
  return Iterator(block_, first_field_);
}

HeaderView::Iterator HeaderView::end() const {
  return Iterator(block_, block_.size() >= 2 ? block_.size() - 2 : 0);
}

std::optional<std::string_view> HeaderView::Find(std::string_view name) const {
  for (HeaderField f : *this) {
    if (f.name == name) return f.value;
  }
  return std::nullopt;
}

std::optional<std::string_view> HeaderView::FindIgnoreCase(std::string_view name) const {
  for (HeaderField f : *this) {
    if (EqualIgnoreCase(f.name, name)) return f.value;
  }
  return std::nullopt;
}

size_t HeaderView::Count(std::string_view name) const {
  size_t n = 0;
  for (HeaderField f : *this) n += f.name == name ? 1 : 0;
  return n;
}

std::optional<std::string_view> ServerHeaderLookup(std::string_view block, std::string_view name) {
  if (block.empty() || name.empty()) return std::nullopt;
  size_t index = block.find(name);
  if (index == std::string_view::npos || index < 2) return std::nullopt;
  if (block[index - 1] != '\n' || block[index - 2] != '\r') return std::nullopt;
  index += name.size();
  if (index >= block.size() || block[index] != ':') return std::nullopt;
  ++index;
  while (index < block.size() && block[index] == ' ') ++index;
  size_t end = index;
  while (end < block.size() &&
         !(block[end] == '\r' && end + 1 < block.size() && block[end + 1] == '\n')) {
    ++end;
  }
  return block.substr(index, end - index);
}

HeaderBuilder::HeaderBuilder() : block_(kEmptyBlock) {}

HeaderError HeaderBuilder::Load(std::string_view block) {
  HeaderView view;
  const HeaderError error = HeaderView::Parse(block, &view);
  if (error != HeaderError::kNone) return error;
  block_.assign(block.data(), block.size());
  return HeaderError::kNone;
}

void HeaderBuilder::Clear() {
  block_.assign(kEmptyBlock);
}

HeaderError HeaderBuilder::SetStatus(int code, std::string_view description) {
  if (code != 0 && (code < 100 || code > 999)) return HeaderError::kBadStatus;
  if (!ValidValue(description)) return HeaderError::kInvalidValue;
  if (code == 0 && !description.empty()) return HeaderError::kBadStatus;
  std::string line(kVersion);
  if (code != 0) {
    line += ' ';
    line += std::to_string(code);
    if (!description.empty()) {
      line += ' ';
      line.append(description.data(), description.size());
    }
  }
  block_.replace(0, block_.find("\r\n"), line);
  return HeaderError::kNone;
}

HeaderError HeaderBuilder::Add(std::string_view name, std::string_view value) {
  if (!ValidName(name)) return HeaderError::kInvalidName;
  if (!ValidValue(value)) return HeaderError::kInvalidValue;
  std::string line;
  line.reserve(name.size() + value.size() + 4);
  line.append(name.data(), name.size());
  line += ": ";
  line.append(value.data(), value.size());
  line += "\r\n";
  block_.insert(block_.size() - 2, line);
  return HeaderError::kNone;
}

HeaderError HeaderBuilder::Set(std::string_view name, std::string_view value) {
  if (!ValidName(name)) return HeaderError::kInvalidName;
  if (!ValidValue(value)) return HeaderError::kInvalidValue;
  bool replaced = false;
  size_t pos = block_.find("\r\n") + 2;
  while (pos < block_.size() - 2) {
    const size_t eol = block_.find("\r\n", pos);
    const size_t colon = block_.find(':', pos);
    if (std::string_view(block_).substr(pos, colon - pos) != name) {
      pos = eol + 2;
      continue;
    }
    if (!replaced) {
      // Keep the line in place; rewrite what follows the name.
      std::string rest = ": ";
      rest.append(value.data(), value.size());
      block_.replace(colon, eol - colon, rest);
      pos = colon + rest.size() + 2;
      replaced = true;
    } else {
      block_.erase(pos, eol + 2 - pos);
    }
  }
  if (!replaced) return Add(name, value);
  return HeaderError::kNone;
}

size_t HeaderBuilder::Remove(std::string_view name) {
  size_t removed = 0;
  size_t pos = block_.find("\r\n") + 2;
  while (pos < block_.size() - 2) {
    const size_t eol = block_.find("\r\n", pos);
    const size_t colon = block_.find(':', pos);
    if (std::string_view(block_).substr(pos, colon - pos) == name) {
      block_.erase(pos, eol + 2 - pos);
      ++removed;
    } else {
      pos = eol + 2;
    }
  }
  return removed;
}

HeaderView HeaderBuilder::view() const {
  HeaderView view;
  HeaderView::Parse(block_, &view);
  return view;
}

}  // namespace meridian::proto
