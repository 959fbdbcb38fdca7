// What the trimmer may remove from a write stream: everything below the lowest sequence
// every stream that sources it has already received.
//
// How far a reader has got comes from its stored messages: each sourced message carries
// `Nats-Stream-Source: <origin>[:<hash>] <origin seq>[ <filter> <dest>...]` (2.9 has two
// fields, 2.10+ four or more), and the newest one from an origin is found with
// $JS.API.STREAM.MSG.GET {"last_by_subj": "<prefix>.<origin>.>"} (wildcards work on 2.9).
// Pure: the coordinator does the requests.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::topology {

struct SourcePosition {
  std::string stream;  // origin stream name, without ":<hash>"
  std::uint64_t seq = 0;
};

// From the value of a Nats-Stream-Source header; nullopt when it is not one we understand.
std::optional<SourcePosition> ParseStreamSourceValue(std::string_view value);

// What a $JS.API.STREAM.MSG.GET reply says about the newest message sourced from an origin.
struct SourcedProbe {
  enum Kind : std::uint8_t { kFound, kNoMessage, kError } kind = kError;
  SourcePosition position;  // kFound
  std::string error;        // kError: a sentence
};
SourcedProbe ProbeFromMsgGet(const nlohmann::json& reply, std::string_view origin_stream);

// One reader of a write stream: a read stream (eventual) or the ordering stream (ordered).
struct ReaderPosition {
  std::string reader;                // "foo-read-east"
  std::optional<std::uint64_t> seq;  // highest origin seq it holds; nullopt = unknown
  std::string why_unknown;           // when seq is nullopt
};

struct TrimInput {
  std::string write_stream;
  std::uint64_t first_seq = 0;  // of the write stream now
  std::uint64_t last_seq = 0;
  std::vector<ReaderPosition> readers;
};

struct TrimDecision {
  std::string write_stream;
  std::uint64_t purge_below = 0;  // STREAM.PURGE {"seq": purge_below}; 0 = purge nothing
  std::uint64_t removes = 0;      // messages that purge removes (at most)
  std::string reason;             // why nothing, or which reader holds it back
};

TrimDecision DecideTrim(const TrimInput& input);

// A warning when the oldest message `reader_region` still misses from `origin_region` is at
// least 80% of `write_max_age` old (0 = no limit: never), else "". Past the limit the write
// stream drops it before the reader has it.
std::string BacklogWarning(const std::string& write_stream, const std::string& origin_region,
                           const std::string& reader_region, std::chrono::nanoseconds age,
                           std::chrono::nanoseconds write_max_age);

}  // namespace meridian::topology
