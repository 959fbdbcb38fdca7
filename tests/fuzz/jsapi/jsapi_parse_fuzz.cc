// Arbitrary bytes as a JetStream API reply or request. The first byte picks the type. Parsing
// must never crash; whatever parses must serialize, and re-parse to an equal value.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "jsapi/json.h"

namespace {

using namespace meridian::jsapi;  // NOLINT(google-build-using-namespace)

template <typename T>
void RoundTrip(std::string_view text) {
  auto first = ParseApiResponse<T>(text);
  if (!first.ok()) return;
  const std::string out = first->ToJson();
  auto second = ParseApiResponse<T>(out);
  if (!second.ok()) std::abort();
  if (first->is_error() != second->is_error()) std::abort();
  if (first->is_error() ? !(first->error_response() == second->error_response())
                        : !(first->body() == second->body())) {
    std::abort();
  }
}

template <typename T>
void RoundTripPlain(std::string_view text) {
  auto first = Parse<T>(text);
  if (!first.ok()) return;
  auto second = Parse<T>(ToJson(first.value()));
  if (!second.ok() || !(second.value() == first.value())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 12) {
    case 0:
      RoundTrip<StreamInfo>(text);
      break;
    case 1:
      RoundTrip<ConsumerInfo>(text);
      break;
    case 2:
      RoundTrip<StreamNamesResponse>(text);
      break;
    case 3:
      RoundTrip<StreamListResponse>(text);
      break;
    case 4:
      RoundTrip<ConsumerListResponse>(text);
      break;
    case 5: {
      RoundTrip<PubAck>(text);
      // Whatever the fast scanner accepts is exactly the server's text form.
      if (auto view = ScanPubAckText(text)) {
        std::string again;
        AppendPubAckText(PubAck{.stream = std::string(view->stream),
                                .seq = view->seq,
                                .domain = std::string(view->domain),
                                .duplicate = view->duplicate},
                         again);
        if (again != text) std::abort();
      }
      break;
    }
    case 6:
      RoundTrip<MsgGetResponse>(text);
      break;
    case 7:
      RoundTrip<AccountInfo>(text);
      break;
    case 8:
      RoundTripPlain<StreamConfig>(text);
      break;
    case 9:
      RoundTripPlain<CreateConsumerRequest>(text);
      break;
    case 10: {
      auto r = ParsePullRequest(text);
      if (r.ok()) RoundTripPlain<PullRequest>(ToJson(r.value()));
      break;
    }
    default:
      RoundTripPlain<MsgGetRequest>(text);
      break;
  }
  return 0;
}
