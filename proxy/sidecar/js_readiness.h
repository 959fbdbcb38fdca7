// JsReadiness: whether a region's JetStream can take writes, from the answers of periodic
// JetStream API requests the UpstreamProbe sends on its own connection.
//
// A region whose servers answer PING may still have no JetStream meta leader or no leader
// for its write streams (e.g. just restarted after a SIGKILL): publishes there get "No
// responders" (503) until the Raft groups elect. The sidecar therefore counts a region as
// ready to serve only when, besides PING/PONG, every check here holds:
//  - for each write stream of the region (`<name>-write-<region>` of each virtual stream
//    listing it): `$JS.API.STREAM.INFO.<stream>` answers without an error and, when the
//    reply has `cluster` info, with a `cluster.leader` (an R1 stream of a single server has
//    none: no error suffices);
//  - with no virtual stream listing the region: `$JS.API.INFO` answers without an error.
// A request unanswered for `timeout` counts as not ready. Pure logic (no I/O, no clock of
// its own): the probe calls Poll() on a timer, writes the requests, and feeds the replies
// to OnReply(). Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::rewrite {
class Topology;
}

namespace meridian::sidecar {

struct JsVerdict {
  bool ready = false;
  std::string reason;  // why not ready ("no leader for foo-write-central"); empty when ready
};

// Reads one reply to `$JS.API.STREAM.INFO.<stream>`. `status` is the reply's header status
// (0: no header status), `description` its text; `payload` the JSON body.
JsVerdict ReadStreamInfoReply(std::string_view stream, int status, std::string_view description,
                              std::string_view payload);
// Reads one reply to `$JS.API.INFO`.
JsVerdict ReadAccountInfoReply(int status, std::string_view description, std::string_view payload);

// The write streams of every virtual stream of `topology` that lists `region`, in topology
// order; empty for a null topology or a region no stream lists.
std::vector<std::string> WriteStreamsOf(const rewrite::Topology* topology, std::string_view region);

class JsReadiness {
 public:
  static constexpr std::chrono::milliseconds kInterval{500};
  static constexpr std::chrono::milliseconds kTimeout{2000};

  // One check per write stream; none given: one `$JS.API.INFO` check.
  explicit JsReadiness(std::vector<std::string> write_streams,
                       std::chrono::milliseconds interval = kInterval,
                       std::chrono::milliseconds timeout = kTimeout);

  struct Request {
    std::uint64_t token = 0;  // the last token of the reply subject
    std::string subject;      // "$JS.API.STREAM.INFO.foo-write-west"
  };
  // Expires requests unanswered for `timeout` (not ready), then returns the requests to send
  // now: every check with no request in flight, last asked at least `interval` ago.
  std::vector<Request> Poll(std::uint64_t now_ms);
  // A reply to the request sent with `token`; ignored when that request is no longer awaited.
  void OnReply(std::uint64_t token, int status, std::string_view description,
               std::string_view payload);
  // The connection was lost or replaced: every check is unknown again (not ready).
  void Reset(const std::string& why);

  bool ready() const;
  // Why not ready: the first failing check's reason; empty when ready.
  std::string reason() const;
  // The streams checked (empty: the `$JS.API.INFO` fallback).
  std::vector<std::string> streams() const;

 private:
  struct Check {
    std::string stream;  // empty: $JS.API.INFO
    std::string subject;
    std::uint64_t token = 0;  // in flight when non-zero
    std::uint64_t sent_ms = 0;
    bool asked = false;  // sent at least once on this connection
    JsVerdict verdict{false, "JetStream not asked yet"};
  };
  std::vector<Check> checks_;
  std::chrono::milliseconds interval_;
  std::chrono::milliseconds timeout_;
  std::uint64_t next_token_ = 1;
};

}  // namespace meridian::sidecar
