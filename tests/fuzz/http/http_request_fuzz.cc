// Fuzzes the HTTP request path: bytes -> RequestParser (llhttp) -> routing-relevant fields.
// Checks that feeding the input whole and split at a fuzzer-chosen point gives the same
// requests and the same verdict, and that the per-request size bound always holds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/request.h"

namespace {

using meridian::http::Request;
using meridian::http::RequestParser;

constexpr size_t kLimit = 2048;

struct Outcome {
  std::vector<std::string> summary;
  int error_status = 0;
};

Outcome Run(std::string_view data, size_t split) {
  RequestParser parser(kLimit);
  Outcome out;
  auto on_request = [&](Request& r) {
    size_t size = r.target.size() + r.body.size();
    for (const auto& [k, v] : r.headers) size += k.size() + v.size();
    if (size > kLimit) std::abort();  // the bound was not enforced
    std::string s = r.method + " " + r.path + " " + std::to_string(r.query.size()) + " " +
                    std::to_string(r.headers.size()) + " " + r.body + (r.keep_alive ? " ka" : "");
    for (const auto& [k, v] : r.query) s += " " + k + "=" + v;
    out.summary.push_back(std::move(s));
    return true;
  };
  auto e1 = parser.Feed(data.substr(0, split), on_request);
  auto e2 = e1 ? e1 : parser.Feed(data.substr(split), on_request);
  if (e2) out.error_status = e2->status;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  size_t split = bytes[0] % size;
  std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  split = split > data.size() ? data.size() : split;
  Outcome whole = Run(data, data.size());
  Outcome parts = Run(data, split);
  // The requests seen before an error may differ only if the error differs; when both
  // succeed they must agree exactly.
  if (whole.error_status == 0 && parts.error_status == 0 && whole.summary != parts.summary) {
    std::abort();
  }
  if ((whole.error_status == 0) != (parts.error_status == 0)) std::abort();
  (void)meridian::http::ParseQuery(data);
  return 0;
}
