// Fuzz target: arbitrary $JS.API subjects and bodies, publishes, acks and ticks never crash
// the engine. Input: lines "<op> <subject>\t<body>" where op is A (API), P (publish),
// K (ack), T (tick). Memory streams only, so no files are written.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "jetstream/engine.h"

namespace {

class NullOutbound : public meridian::jetstream::Outbound {
 public:
  void Send(std::string_view, std::string_view reply, std::string_view, std::string_view) override {
    last_reply.assign(reply);
  }
  bool HasInterest(std::string_view subject) override { return !subject.empty(); }
  std::string last_reply;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  NullOutbound out;
  int64_t now = 1'000'000'000'000'000'000;
  meridian::jetstream::EngineOptions options;  // no store_dir: memory streams only
  options.clock = [&now] { return now; };
  std::string error;
  auto engine = meridian::jetstream::Engine::Open(options, &out, &error);
  if (!engine) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string reply;
  while (!input.empty()) {
    size_t nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
    if (line.size() < 2) continue;
    char op = line[0];
    line.remove_prefix(2);
    size_t tab = line.find('\t');
    std::string_view subject = line.substr(0, tab);
    std::string_view body =
        tab == std::string_view::npos ? std::string_view() : line.substr(tab + 1);
    switch (op) {
      case 'A':
        engine->HandleApi(subject, "_INBOX.f", "", body, &reply);
        break;
      case 'P': {
        // Body up to "|" is the header block (with \r\n written as "\\n"), the rest payload.
        std::string headers;
        size_t bar = body.find('|');
        if (bar != std::string_view::npos) {
          for (char c : body.substr(0, bar)) {
            if (c == '~')
              headers += "\r\n";
            else
              headers += c;
          }
          body.remove_prefix(bar + 1);
        }
        engine->Publish(subject, "_INBOX.p", headers, body, [](std::string) {});
        break;
      }
      case 'K':
        engine->HandleAck(subject, "_INBOX.k", body);
        break;
      case 'N':  // ack the last delivery seen
        if (!out.last_reply.empty()) engine->HandleAck(out.last_reply, "", body);
        break;
      case 'T':
        now += static_cast<int64_t>(body.size() + 1) * 500'000'000;
        engine->Tick();
        break;
      default:
        break;
    }
  }
  engine->Close();
  return 0;
}
