#include "rewrite/api_subject.h"

#include <array>

namespace meridian::rewrite {
namespace {

constexpr std::size_t kMaxHead = 10;

// The first kMaxHead tokens as spans, and the total count.
struct Split {
  std::array<TokenSpan, kMaxHead> tok{};
  std::size_t count = 0;
};

Split SplitHead(std::string_view s) {
  Split out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (out.count < kMaxHead) out.tok[out.count] = TokenSpan{start, i - start};
      ++out.count;
      start = i + 1;
    }
  }
  return out;
}

struct Shape {
  ApiOp op;
  std::string_view type_suffix;
};

}  // namespace

std::optional<ApiSubject> ParseApiSubject(std::string_view subject) {
  if (!subject.starts_with("$JS.")) return std::nullopt;
  const Split sp = SplitHead(subject);
  auto tok = [&](std::size_t i) -> std::string_view {
    if (i >= sp.count || i >= kMaxHead) return {};
    return subject.substr(sp.tok[i].pos, sp.tok[i].len);
  };
  // Every token must be non-empty: "$JS.API..INFO" is not a request subject.
  for (std::size_t i = 0; i < sp.count && i < kMaxHead; ++i) {
    if (sp.tok[i].len == 0) return std::nullopt;
  }
  std::size_t base;  // index of the first token after "API"
  if (tok(1) == "API") {
    base = 2;
  } else if (tok(2) == "API" && tok(1) != "ACK" && tok(1) != "FC") {
    base = 3;
  } else {
    return std::nullopt;
  }
  const std::size_t n = sp.count - base;  // tokens after "API"
  const std::string_view a = tok(base), b = tok(base + 1), c = tok(base + 2);

  ApiSubject out{};
  // Stream at relative index `rel`, and exactly `want` tokens after "API".
  auto fixed = [&](ApiOp op, std::string_view type, std::size_t rel,
                   std::size_t want) -> std::optional<ApiSubject> {
    if (n != want) return std::nullopt;
    out.op = op;
    out.type_suffix = type;
    if (rel != 0) out.stream = sp.tok[base + rel];
    return out;
  };

  if (a == "INFO") return fixed(ApiOp::kAccountInfo, "account_info_response", 0, 1);
  if (a == "STREAM") {
    if (b == "CREATE") return fixed(ApiOp::kStreamCreate, "stream_create_response", 2, 3);
    if (b == "UPDATE") return fixed(ApiOp::kStreamUpdate, "stream_update_response", 2, 3);
    if (b == "DELETE") return fixed(ApiOp::kStreamDelete, "stream_delete_response", 2, 3);
    if (b == "PURGE") return fixed(ApiOp::kStreamPurge, "stream_purge_response", 2, 3);
    if (b == "INFO") return fixed(ApiOp::kStreamInfo, "stream_info_response", 2, 3);
    if (b == "SNAPSHOT") return fixed(ApiOp::kStreamSnapshot, "stream_snapshot_response", 2, 3);
    if (b == "RESTORE") return fixed(ApiOp::kStreamRestore, "stream_restore_response", 2, 3);
    if (b == "NAMES") return fixed(ApiOp::kStreamNames, "stream_names_response", 0, 2);
    if (b == "LIST") return fixed(ApiOp::kStreamList, "stream_list_response", 0, 2);
    if (b == "MSG" && c == "GET") {
      return fixed(ApiOp::kStreamMsgGet, "stream_msg_get_response", 3, 4);
    }
    if (b == "MSG" && c == "DELETE") {
      return fixed(ApiOp::kStreamMsgDelete, "stream_msg_delete_response", 3, 4);
    }
    if (b == "LEADER" && c == "STEPDOWN") {
      return fixed(ApiOp::kStreamLeaderStepdown, "stream_leader_stepdown_response", 3, 4);
    }
    if (b == "PEER" && c == "REMOVE") {
      return fixed(ApiOp::kStreamPeerRemove, "stream_remove_peer_response", 3, 4);
    }
    return std::nullopt;
  }
  if (a == "CONSUMER") {
    if (b == "CREATE") {
      if (n < 3) return std::nullopt;
      out.op = ApiOp::kConsumerCreate;
      out.type_suffix = "consumer_create_response";
      out.stream = sp.tok[base + 2];
      if (n >= 5) out.tail_pos = sp.tok[base + 4].pos;
      return out;
    }
    if (b == "DURABLE" && c == "CREATE") {
      return fixed(ApiOp::kConsumerDurableCreate, "consumer_create_response", 3, 5);
    }
    if (b == "INFO") return fixed(ApiOp::kConsumerInfo, "consumer_info_response", 2, 4);
    if (b == "DELETE") return fixed(ApiOp::kConsumerDelete, "consumer_delete_response", 2, 4);
    if (b == "NAMES") return fixed(ApiOp::kConsumerNames, "consumer_names_response", 2, 3);
    if (b == "LIST") return fixed(ApiOp::kConsumerList, "consumer_list_response", 2, 3);
    if (b == "MSG" && c == "NEXT") return fixed(ApiOp::kConsumerMsgNext, "", 3, 5);
    if (b == "LEADER" && c == "STEPDOWN") {
      return fixed(ApiOp::kConsumerLeaderStepdown, "consumer_leader_stepdown_response", 3, 5);
    }
    if (b == "PAUSE") return fixed(ApiOp::kConsumerPause, "consumer_pause_response", 2, 4);
    if (b == "UNPIN") return fixed(ApiOp::kConsumerUnpin, "consumer_unpin_response", 2, 4);
    if (b == "RESET") return fixed(ApiOp::kConsumerReset, "consumer_reset_response", 2, 4);
    return std::nullopt;
  }
  if (a == "DIRECT" && b == "GET") {
    if (n < 3) return std::nullopt;
    out.op = ApiOp::kDirectGet;
    out.stream = sp.tok[base + 2];
    if (n >= 4) out.tail_pos = sp.tok[base + 3].pos;
    return out;
  }
  return std::nullopt;
}

}  // namespace meridian::rewrite
