// Request, Response and RequestParser: HTTP/1.1 messages for the monitoring server.
//
// RequestParser turns a byte stream (arriving in any split) into complete Requests with
// llhttp, enforcing a size bound per request; it does no I/O, so tests and fuzzers drive it
// directly. A parse error or an over-limit request stops it for good (the connection must
// then answer 400 or 413 and close).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meridian::http {

struct Request {
  std::string method;                        // "GET"
  std::string target;                        // "/jsz?accounts=1" as sent
  std::string path;                          // "/jsz", percent-decoded
  std::map<std::string, std::string> query;  // decoded; a repeated key keeps the last value
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::string body;
  bool keep_alive = true;

  // The first header with this name (case-insensitive), or empty.
  std::string_view Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  static Response Json(std::string body, int status = 200);
  static Response Text(std::string body, int status = 200);
};

// "Not Found" for 404 etc.; "Unknown" for codes it does not know.
const char* StatusText(int status);

// "a=1&b=x%20y&c" -> {a:1, b:"x y", c:""}. '+' decodes to a space.
std::map<std::string, std::string> ParseQuery(std::string_view query);
// Decodes %XX escapes (invalid escapes are kept as they are); '+' to space when asked.
std::string PercentDecode(std::string_view text, bool plus_is_space);

class RequestParser {
 public:
  struct Error {
    int status;          // 400 or 413
    std::string reason;  // a sentence for the response body and logs
  };
  // Called for each complete request; return false to stop parsing (connection closing).
  using RequestHandler = std::function<bool(Request&)>;

  explicit RequestParser(size_t max_request_bytes);
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Consumes all of `data` (partial requests are kept). Returns the error that stopped it,
  // if any; after an error every later call returns the same error.
  std::optional<Error> Feed(std::string_view data, const RequestHandler& on_request);
  // True when the last request asked to close (or parsing stopped).
  bool stopped() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::http
