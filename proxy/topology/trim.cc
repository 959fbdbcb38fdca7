#include "topology/trim.h"

#include <charconv>

#include "jsapi/json.h"
#include "proto/headers.h"

namespace meridian::topology {

std::optional<SourcePosition> ParseStreamSourceValue(std::string_view value) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (value.starts_with("$JS.ACK.")) return std::nullopt;  // pre-2.9 form: not ours to read
  const size_t sp = value.find(' ');
  if (sp == std::string_view::npos || sp == 0) return std::nullopt;
  std::string_view name = value.substr(0, sp);
  std::string_view rest = value.substr(sp + 1);
  const size_t end = rest.find(' ');
  std::string_view seq_text = rest.substr(0, end);
  if (end != std::string_view::npos) {
    // 2.10+: name seq filter dest [subject]; three fields is malformed.
    std::string_view after = rest.substr(end + 1);
    if (after.find(' ') == std::string_view::npos) return std::nullopt;
  }
  if (const size_t colon = name.find(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  SourcePosition p;
  p.stream = std::string(name);
  auto [ptr, ec] = std::from_chars(seq_text.data(), seq_text.data() + seq_text.size(), p.seq);
  if (ec != std::errc() || ptr != seq_text.data() + seq_text.size() || p.stream.empty()) {
    return std::nullopt;
  }
  return p;
}

SourcedProbe ProbeFromMsgGet(const nlohmann::json& reply, std::string_view origin_stream) {
  SourcedProbe probe;
  if (reply.contains("error")) {
    const auto& e = reply["error"];
    if (e.value("err_code", 0) == 10037 || e.value("code", 0) == 404) {
      probe.kind = SourcedProbe::kNoMessage;
      return probe;
    }
    probe.error = "the read stream refused MSG.GET: " + e.value("description", e.dump());
    return probe;
  }
  if (!reply.contains("message") || !reply["message"].is_object()) {
    probe.error = "MSG.GET reply has no message: " + reply.dump().substr(0, 200);
    return probe;
  }
  const auto& m = reply["message"];
  auto hdrs = jsapi::Base64Decode(m.value("hdrs", std::string()));
  std::optional<std::string_view> value;
  if (hdrs) value = proto::ServerHeaderLookup(*hdrs, "Nats-Stream-Source");
  std::optional<SourcePosition> pos;
  if (value) pos = ParseStreamSourceValue(*value);
  if (!pos) {
    probe.error = "message " + std::to_string(m.value("seq", 0ull)) + " (" +
                  m.value("subject", std::string()) +
                  ") has no readable Nats-Stream-Source header, so how far this read stream got "
                  "is unknown";
    return probe;
  }
  if (pos->stream != origin_stream) {
    probe.error = "message " + std::to_string(m.value("seq", 0ull)) + " came from " + pos->stream +
                  ", not " + std::string(origin_stream) +
                  ": the read stream holds subjects of another origin";
    return probe;
  }
  probe.kind = SourcedProbe::kFound;
  probe.position = *pos;
  return probe;
}

TrimDecision DecideTrim(const TrimInput& in) {
  TrimDecision d;
  d.write_stream = in.write_stream;
  if (in.readers.empty()) {
    d.reason = "nothing sources it";
    return d;
  }
  std::uint64_t low = UINT64_MAX;
  std::string holder;
  for (const ReaderPosition& r : in.readers) {
    if (!r.seq) {
      d.reason = "not trimmed: " + r.reader + ": " + r.why_unknown;
      return d;
    }
    if (*r.seq < low) {
      low = *r.seq;
      holder = r.reader;
    }
  }
  const std::uint64_t below = low + 1;  // keep the lowest unsourced message and everything after
  if (below > in.last_seq + 1) {
    d.reason = "not trimmed: " + holder + " claims seq " + std::to_string(low) +
               ", beyond the stream's last (" + std::to_string(in.last_seq) +
               "): was the write stream created again?";
    return d;
  }
  if (in.last_seq == 0 || below <= in.first_seq) {
    d.reason = in.last_seq == 0 ? "empty"
                                : "nothing below what " + holder + " has sourced (seq " +
                                      std::to_string(low) + ")";
    return d;
  }
  d.purge_below = below;
  d.removes = below - in.first_seq;
  d.reason =
      "every reader has sourced up to seq " + std::to_string(low) + " (lowest: " + holder + ")";
  return d;
}

std::string BacklogWarning(const std::string& write_stream, const std::string& origin_region,
                           const std::string& reader_region, std::chrono::nanoseconds age,
                           std::chrono::nanoseconds write_max_age) {
  if (write_max_age.count() <= 0 || age.count() * 10 < write_max_age.count() * 8) return "";
  auto secs = [](std::chrono::nanoseconds d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + "s";
  };
  return "the backlog from \"" + origin_region + "\" to \"" + reader_region + "\" is " + secs(age) +
         " old, near write_max_age (" + secs(write_max_age) + "): messages older than that leave " +
         write_stream + " before \"" + reader_region + "\" has them";
}

}  // namespace meridian::topology
