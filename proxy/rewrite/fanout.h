// Last-by-subject gets on a virtual stream: one request per origin subject, one answer.
//
// A client's `foo.test` is stored as `foo.<r>.test` for every region r, so "the last
// message on foo.test" is the newest of the last messages on each origin subject. The
// Rewriter produces the requests (ApiAction::kFanOut); the session sends each with its own
// reply subject, records each in the PendingTable with plan.group/plan.part, and hands the
// replies to a FanOutTable. When all parts are in (or the group's deadline passes), it
// answers the client with ChooseNewest's pick, rewritten by Rewriter::RewriteReply(merge).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rewrite/reply_plan.h"

namespace meridian::rewrite {

struct FanOutPart {
  bool answered = false;
  std::string headers;  // the reply's header block (direct get), may be empty
  std::string body;     // the reply's payload
};

// The part to answer with:
// - the newest message among the parts that found one: by stored time (MSG.GET `time`,
//   direct-get `Nats-Time-Stamp`), then by stream sequence (`seq`, `Nats-Sequence`). All
//   parts come from the same read stream, where both follow arrival order;
// - else the first part that answered at all (a 404 "no message found", a 408, an error);
// - nullopt when no part answered: the client then times out, as with a silent server.
// `kind` is ReplyKind::kMsgGet (JSON bodies) or ReplyKind::kDirectGet (headers).
std::optional<std::size_t> ChooseNewest(ReplyKind kind, std::span<const FanOutPart> parts);

// Nanoseconds since the Unix epoch for "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (as the server
// writes times), nullopt for anything else.
std::optional<std::int64_t> ParseRfc3339Nanos(std::string_view text);

class FanOutTable {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  struct Completed {
    std::string client_reply;  // where the client waits for the answer
    ReplyPlan merge;           // kind and stream: pass to ChooseNewest and RewriteReply
    std::vector<FanOutPart> parts;
  };

  explicit FanOutTable(std::size_t max_groups = 1024) : max_groups_(max_groups) {}

  // A new group of `parts` requests answering `client_reply`; its id (never 0), or 0 when
  // max_groups are already open (refuse or forward the request unmerged).
  std::uint32_t Open(std::string_view client_reply, const ReplyPlan& merge, std::size_t parts,
                     TimePoint deadline);
  // Records one part's reply. Returns the group once every part has answered. Unknown
  // groups, parts out of range and repeated parts are ignored (nullopt).
  std::optional<Completed> Deliver(std::uint32_t group, std::uint16_t part,
                                   std::string_view headers, std::string_view body);
  // Closes every group whose deadline is at or before `now`, with what it has.
  std::vector<Completed> Expire(TimePoint now);

  std::size_t open_groups() const { return groups_.size(); }

 private:
  struct Group {
    Completed state;
    std::size_t remaining;
    TimePoint deadline;
  };
  std::size_t max_groups_;
  std::uint32_t next_id_ = 1;
  std::unordered_map<std::uint32_t, Group> groups_;
};

}  // namespace meridian::rewrite
