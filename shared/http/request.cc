#include "http/request.h"

#include <llhttp.h>
#include <strings.h>

namespace meridian::http {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

Response Response::Json(std::string body, int status) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

Response Response::Text(std::string body, int status) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

const char* StatusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
  }
  return "Unknown";
}

std::string PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = HexValue(text[i + 1]), lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true);
    out[std::move(key)] = std::move(value);
  }
  return out;
}

// ---- RequestParser ----------------------------------------------------------------------

struct RequestParser::Impl {
  llhttp_t parser;
  llhttp_settings_t settings;
  size_t max_bytes;
  size_t bytes = 0;  // of the request being parsed
  Request current;
  bool in_header_value = false;
  std::optional<Error> error;
  bool stopped = false;
  const RequestHandler* on_request = nullptr;

  static Impl* From(llhttp_t* p) { return static_cast<Impl*>(p->data); }

  // Counts bytes of the current request; false when it went over the limit.
  bool Count(size_t n) {
    bytes += n;
    if (bytes <= max_bytes) return true;
    error = Error{413, "the request is larger than " + std::to_string(max_bytes) +
                           " bytes; this endpoint takes small requests only"};
    return false;
  }
};

RequestParser::RequestParser(size_t max_request_bytes) : impl_(std::make_unique<Impl>()) {
  Impl* s = impl_.get();
  s->max_bytes = max_request_bytes;
  llhttp_settings_init(&s->settings);
  s->settings.on_message_begin = [](llhttp_t* p) {
    Impl* self = Impl::From(p);
    self->current = Request();
    self->bytes = 0;
    self->in_header_value = false;
    return 0;
  };
  s->settings.on_url = [](llhttp_t* p, const char* at, size_t len) {
    Impl* self = Impl::From(p);
    if (!self->Count(len)) return -1;
    self->current.target.append(at, len);
    return 0;
  };
  s->settings.on_header_field = [](llhttp_t* p, const char* at, size_t len) {
    Impl* self = Impl::From(p);
    bool new_header = self->in_header_value || self->current.headers.empty();
    if (!self->Count(len + (new_header ? 4 : 0))) return -1;  // ": " and CRLF count too
    if (new_header) {
      self->current.headers.emplace_back();
      self->in_header_value = false;
    }
    self->current.headers.back().first.append(at, len);
    return 0;
  };
  s->settings.on_header_value = [](llhttp_t* p, const char* at, size_t len) {
    Impl* self = Impl::From(p);
    if (!self->Count(len)) return -1;
    self->in_header_value = true;
    if (self->current.headers.empty()) self->current.headers.emplace_back();
    self->current.headers.back().second.append(at, len);
    return 0;
  };
  s->settings.on_body = [](llhttp_t* p, const char* at, size_t len) {
    Impl* self = Impl::From(p);
    if (!self->Count(len)) return -1;
    self->current.body.append(at, len);
    return 0;
  };
  s->settings.on_message_complete = [](llhttp_t* p) {
    Impl* self = Impl::From(p);
    Request& r = self->current;
    r.method = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_get_method(p)));
    r.keep_alive = llhttp_should_keep_alive(p) != 0;
    std::string_view target = r.target;
    size_t q = target.find('?');
    size_t hash = target.find('#');
    std::string_view path = target.substr(0, std::min(q, hash));
    r.path = PercentDecode(path, false);
    if (q != std::string_view::npos) {
      std::string_view query = target.substr(q + 1);
      if (size_t h = query.find('#'); h != std::string_view::npos) query = query.substr(0, h);
      r.query = ParseQuery(query);
    }
    bool go_on = (*self->on_request)(r);
    if (!go_on || !r.keep_alive) {
      self->stopped = true;
      return static_cast<int>(HPE_PAUSED);
    }
    return 0;
  };
  llhttp_init(&s->parser, HTTP_REQUEST, &s->settings);
  s->parser.data = s;
}

RequestParser::~RequestParser() = default;

bool RequestParser::stopped() const {
  return impl_->stopped || impl_->error.has_value();
}

std::optional<RequestParser::Error> RequestParser::Feed(std::string_view data,
                                                        const RequestHandler& on_request) {
  Impl* s = impl_.get();
  if (s->error) return s->error;
  if (s->stopped || data.empty()) return std::nullopt;
  s->on_request = &on_request;
  llhttp_errno_t rc = llhttp_execute(&s->parser, data.data(), data.size());
  s->on_request = nullptr;
  if (rc == HPE_OK || rc == HPE_PAUSED) return std::nullopt;
  if (rc == HPE_PAUSED_UPGRADE) {  // no protocol upgrades here: answer, then close
    s->stopped = true;
    return std::nullopt;
  }
  if (!s->error) {
    const char* reason = llhttp_get_error_reason(&s->parser);
    s->error = Error{400, std::string("the request is not valid HTTP/1.1 (") +
                              (reason ? reason : llhttp_errno_name(rc)) + ")"};
  }
  return s->error;
}

}  // namespace meridian::http
