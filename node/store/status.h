// Status: the outcome of a store operation, a code plus a sentence for people.
#pragma once

#include <string>
#include <utility>

namespace meridian::store {

enum class StatusCode {
  kOk,
  kNotFound,         // no such message (never stored, deleted, or purged)
  kCorrupt,          // the bytes on disk fail their checksum; the replica needs repair
  kIoError,          // the operating system refused a read, write or sync
  kNoSpace,          // the disk is full (ENOSPC, EDQUOT); nothing was half-written
  kLimitReached,     // discard-new retention refused the message
  kInvalidArgument,  // the caller asked for something malformed
  kFailed,           // an earlier fsync failed; the store refuses writes until reopened
  kClosed,           // the store was closed
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

}  // namespace meridian::store
