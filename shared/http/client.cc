#include "http/client.h"

#include <llhttp.h>
#include <strings.h>

#include <optional>

#include "net/connection.h"
#include "net/endpoint.h"
#include "net/listener.h"
#include "net/loop.h"

namespace meridian::http {

std::string_view ClientResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return {};
}

namespace {

constexpr size_t kMaxResponseBytes = 16 * 1024 * 1024;

// One GET in progress; owned by the callbacks that can still reach it (shared_ptr).
struct GetCall : std::enable_shared_from_this<GetCall> {
  net::Loop* loop = nullptr;
  std::string url;
  std::string host_header;
  std::string target;
  GetHandler done;
  net::ConnectionPtr conn;
  net::Timer timeout;
  llhttp_t parser;
  llhttp_settings_t settings;
  ClientResponse response;
  size_t bytes = 0;
  bool in_value = false;
  bool complete = false;

  void Finish(net::Result<ClientResponse> result) {
    if (!done) return;
    auto cb = std::move(done);
    done = nullptr;
    timeout.Cancel();
    if (conn) {
      conn->DetachHandlers();
      conn->Abort();
      conn.reset();
    }
    cb(std::move(result));
  }

  void Fail(const std::string& why) {
    Finish(net::Status::Error("GET " + url + " failed: " + why));
  }

  void InitParser() {
    llhttp_settings_init(&settings);
    settings.on_header_field = [](llhttp_t* p, const char* at, size_t len) {
      auto* self = static_cast<GetCall*>(p->data);
      if (self->in_value || self->response.headers.empty()) {
        self->response.headers.emplace_back();
        self->in_value = false;
      }
      self->response.headers.back().first.append(at, len);
      return 0;
    };
    settings.on_header_value = [](llhttp_t* p, const char* at, size_t len) {
      auto* self = static_cast<GetCall*>(p->data);
      self->in_value = true;
      if (self->response.headers.empty()) self->response.headers.emplace_back();
      self->response.headers.back().second.append(at, len);
      return 0;
    };
    settings.on_body = [](llhttp_t* p, const char* at, size_t len) {
      static_cast<GetCall*>(p->data)->response.body.append(at, len);
      return 0;
    };
    settings.on_message_complete = [](llhttp_t* p) {
      auto* self = static_cast<GetCall*>(p->data);
      self->response.status = p->status_code;
      self->complete = true;
      return static_cast<int>(HPE_PAUSED);
    };
    llhttp_init(&parser, HTTP_RESPONSE, &settings);
    parser.data = this;
  }

  void OnConnected(net::ConnectionPtr c) {
    conn = std::move(c);
    auto self = shared_from_this();
    conn->SetReadHandler([self](std::string_view data) {
      self->bytes += data.size();
      if (self->bytes > kMaxResponseBytes) {
        self->Fail("the response is larger than 16 MiB");
        return data.size();
      }
      llhttp_errno_t rc = llhttp_execute(&self->parser, data.data(), data.size());
      if (self->complete) {
        self->Finish(std::move(self->response));
      } else if (rc != HPE_OK) {
        self->Fail(std::string("the response is not valid HTTP (") +
                   llhttp_get_error_reason(&self->parser) + ")");
      }
      return data.size();
    });
    conn->SetCloseHandler([self](const net::CloseInfo& info) {
      self->conn.reset();
      if (!self->done) return;
      // A response without Content-Length ends at EOF.
      if (info.reason == net::CloseReason::kPeerClosed && llhttp_finish(&self->parser) == HPE_OK &&
          self->complete) {
        self->Finish(std::move(self->response));
        return;
      }
      if (self->complete) {
        self->Finish(std::move(self->response));
        return;
      }
      self->Fail("the server closed the connection before a complete response (" +
                 std::string(net::CloseReasonName(info.reason)) + ")");
    });
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + host_header +
                          "\r\nUser-Agent: meridian\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    conn->Write(request);
  }
};

}  // namespace

void Get(net::Loop& loop, std::string_view url, std::chrono::milliseconds timeout,
         GetHandler done) {
  auto call = std::make_shared<GetCall>();
  call->loop = &loop;
  call->url = std::string(url);
  call->done = std::move(done);
  call->InitParser();
  std::string_view rest = url;
  if (!rest.starts_with("http://")) {
    call->Fail("only http:// URLs are supported; write http://host:port/path");
    return;
  }
  rest.remove_prefix(7);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  call->target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  call->host_header = std::string(authority);
  std::string with_port(authority);
  if (authority.find(':') == std::string_view::npos ||
      (authority.starts_with("[") && authority.ends_with("]"))) {
    with_port += ":80";
  }
  auto endpoint = net::Endpoint::Parse(with_port);
  if (!endpoint.ok()) {
    call->Fail(endpoint.message());
    return;
  }
  std::weak_ptr<GetCall> weak = call;
  call->timeout = loop.After(timeout, [weak, timeout] {
    if (auto c = weak.lock()) {
      c->Fail("no complete response within " + std::to_string(timeout.count()) + " ms");
    }
  });
  net::ConnectOptions options;
  options.timeout = timeout;
  net::Connect(loop, *endpoint, options, [call](net::Result<net::ConnectionPtr> r) {
    if (!call->done) {
      if (r.ok()) r.value()->Abort();
      return;
    }
    if (!r.ok()) {
      call->Fail(r.message());
      return;
    }
    call->OnConnected(std::move(r.value()));
  });
}

}  // namespace meridian::http
