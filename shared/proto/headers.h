// NATS header blocks: `NATS/1.0[ <code>[ <description>]]\r\n(<Name>: <value>\r\n)*\r\n`.
//
// Case rules: header names are case-preserving and compared case-sensitively, as nats-server
// and ADR-4 do (`Nats-Msg-Id` and `nats-msg-id` are different headers). FindIgnoreCase() exists
// for callers that want the lenient lookup some clients offer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meridian::proto {

enum class HeaderError : uint8_t {
  kNone,
  kMissingVersion,     // the block does not start with `NATS/1.0`
  kBadStatus,          // the status is not three digits, or the first line is malformed
  kBadLine,            // a header line has no `:`, an empty name, or a name with whitespace
  kMissingTerminator,  // the block does not end with the blank line `\r\n` (or has bare `\n`)
  kInvalidName,        // builder: a name that is empty or holds `:`, whitespace or control bytes
  kInvalidValue,       // builder: a value that holds `\r` or `\n`
};

// A sentence saying what was wrong with a block, for logs and error replies.
std::string_view HeaderErrorText(HeaderError error);

struct HeaderField {
  std::string_view name;
  std::string_view value;  // leading spaces and tabs skipped; the rest up to `\r\n`
};

// A validated, read-only view of one header block. Parse() checks the whole block once, never
// reading outside it; lookups and iteration then walk the block without allocating. The block
// must outlive the view.
class HeaderView {
 public:
  // Parses `block` (exactly `#hdr bytes`). Returns kNone and fills *out, or the first error.
  static HeaderError Parse(std::string_view block, HeaderView* out);

  std::string_view block() const { return block_; }
  // Status code (e.g. 503, 100), or 0 when the first line has none.
  int status() const { return status_; }
  // Status description (e.g. "Idle Heartbeat"); empty when absent.
  std::string_view description() const { return description_; }

  // First value of `name` (exact, case-sensitive), scanning header lines in order.
  std::optional<std::string_view> Find(std::string_view name) const;
  std::optional<std::string_view> FindIgnoreCase(std::string_view name) const;
  // Number of lines named `name` (exact).
  size_t Count(std::string_view name) const;

  // Iteration in order: `for (HeaderField f : view) ...`.
  class Iterator {
   public:
    HeaderField operator*() const { return field_; }
    Iterator& operator++();
    bool operator==(const Iterator& other) const { return pos_ == other.pos_; }

   private:
    friend class HeaderView;
    Iterator(std::string_view block, size_t pos);
    void Load();
    std::string_view block_;
    size_t pos_;
    size_t next_ = 0;
    HeaderField field_;
  };
  Iterator begin() const;
  Iterator end() const;

 private:
  std::string_view block_;
  size_t first_field_ = 0;  // offset of the first header line
  int status_ = 0;
  std::string_view description_;
};

// The header lookup nats-server 2.9 and 2.10 perform on a block (client.go getHeader): the FIRST
// occurrence of the exact bytes `name` anywhere in the block must sit at a line start (right
// after `\r\n`) and be followed by `:`, otherwise the lookup fails, even if a proper line comes
// later (so `Orig-Nats-Msg-Id:` before `Nats-Msg-Id:` hides it). Leading spaces of the value are
// skipped (spaces only, not tabs); the value runs to the next `\r\n` or the end of the block.
// (Servers after 2.10 skip such false hits instead.) Use it where Meridian must see exactly what
// the server will see. Never reads out of bounds, also on malformed blocks.
std::optional<std::string_view> ServerHeaderLookup(std::string_view block, std::string_view name);

// Builds or edits a header block, keeping header order. The block is kept serialised in one
// reusable string, so block() is always ready to send and its size() is `#hdr bytes` for
// HPUB/HMSG (`#total` = size() + payload size).
class HeaderBuilder {
 public:
  // An empty block: `NATS/1.0\r\n\r\n`.
  HeaderBuilder();

  // Replaces the contents with a copy of `block` after validating it; on error the builder is
  // left unchanged.
  HeaderError Load(std::string_view block);
  // Back to `NATS/1.0\r\n\r\n`, keeping capacity.
  void Clear();

  // Sets the status line (code 100..999) and optional description; code 0 removes it.
  HeaderError SetStatus(int code, std::string_view description = {});
  // Appends `name: value` after the existing headers.
  HeaderError Add(std::string_view name, std::string_view value);
  // Replaces all values of `name` with one: the first line keeps its position, later lines with
  // that name are removed; appended when absent.
  HeaderError Set(std::string_view name, std::string_view value);
  // Removes every line named `name` (exact). Returns how many were removed.
  size_t Remove(std::string_view name);

  std::string_view block() const { return block_; }
  size_t size() const { return block_.size(); }
  // A view over the current block; invalidated by the next edit.
  HeaderView view() const;

 private:
  std::string block_;
};

}  // namespace meridian::proto
