#include "http/server.h"

#include <unordered_map>

#include "net/connection.h"
#include "net/listener.h"
#include "net/loop.h"

namespace meridian::http {

namespace {

// Appends the status line, headers and body of `response` to `out`.
void Serialize(const Response& response, bool keep_alive, bool head_only, std::string& out) {
  out += "HTTP/1.1 ";
  out += std::to_string(response.status);
  out += ' ';
  out += StatusText(response.status);
  out += "\r\nContent-Type: ";
  out += response.content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(response.body.size());
  out += keep_alive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n";
  for (const auto& [k, v] : response.headers) {
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  out += "\r\n";
  if (!head_only) out += response.body;
}

}  // namespace

struct Server::Impl {
  net::Loop& loop;
  ServerOptions options;
  // path -> method -> handler
  std::unordered_map<std::string, std::unordered_map<std::string, Handler>> routes;
  std::unique_ptr<net::Listener> listener;
  uint64_t served = 0;

  struct Session {
    net::ConnectionPtr conn;
    RequestParser parser;
    net::Timer idle;
    std::string out;  // reused for each response
    explicit Session(size_t max) : parser(max) {}
  };
  std::unordered_map<net::Connection*, std::unique_ptr<Session>> sessions;

  Impl(net::Loop& l, ServerOptions o) : loop(l), options(o) {}

  Response Dispatch(const Request& request) {
    auto path = routes.find(request.path);
    if (path == routes.end()) {
      return Response::Text("no endpoint " + request.path + " here\n", 404);
    }
    auto method = path->second.find(request.method);
    if (method == path->second.end() && request.method == "HEAD") {
      method = path->second.find("GET");
    }
    if (method == path->second.end()) {
      std::string allow;
      for (const auto& [m, h] : path->second) allow += (allow.empty() ? "" : ", ") + m;
      Response r = Response::Text(
          request.path + " does not take " + request.method + "; use " + allow + "\n", 405);
      r.headers.emplace_back("Allow", allow);
      return r;
    }
    try {
      return method->second(request);
    } catch (const std::exception& e) {
      return Response::Text(std::string("the handler failed: ") + e.what() + "\n", 500);
    }
  }

  void ArmIdle(Session* s) {
    net::Connection* c = s->conn.get();
    s->idle = loop.After(std::chrono::milliseconds(options.idle_timeout_ms), [c] { c->Close(); });
  }

  void OnAccept(net::ConnectionPtr conn) {
    auto session = std::make_unique<Session>(options.max_request_bytes);
    Session* s = session.get();
    s->conn = conn;
    net::Connection* key = conn.get();
    sessions.emplace(key, std::move(session));
    ArmIdle(s);
    conn->SetCloseHandler([this, key](const net::CloseInfo&) { sessions.erase(key); });
    conn->SetReadHandler([this, s](std::string_view data) {
      ArmIdle(s);
      s->out.clear();
      auto error = s->parser.Feed(data, [&](Request& request) {
        ++served;
        Response response = Dispatch(request);
        Serialize(response, request.keep_alive, request.method == "HEAD", s->out);
        return true;
      });
      if (error) {
        Response r = Response::Text(error->reason + "\n", error->status);
        Serialize(r, false, false, s->out);
      }
      if (!s->out.empty()) s->conn->Write(s->out);
      if (error || s->parser.stopped()) s->conn->Close();
      return data.size();
    });
  }
};

Server::Server(net::Loop& loop, ServerOptions options)
    : impl_(std::make_unique<Impl>(loop, options)) {}

Server::~Server() {
  impl_->listener.reset();
  // Connections close on their own; their handlers must not reach this Server any more.
  for (auto& [key, session] : impl_->sessions) {
    session->conn->DetachHandlers();
    session->conn->Abort();
  }
  impl_->sessions.clear();
}

void Server::Route(std::string method, std::string path, Handler handler) {
  impl_->routes[std::move(path)][std::move(method)] = std::move(handler);
}

net::Status Server::Listen(const net::Endpoint& where) {
  if (impl_->listener) return net::Status::Error("this HTTP server already listens");
  auto l = net::Listener::Listen(impl_->loop, where,
                                 [this](net::ConnectionPtr c) { impl_->OnAccept(std::move(c)); });
  if (!l.ok()) return l.status();
  impl_->listener = std::move(l.value());
  return net::Status::Ok();
}

uint16_t Server::port() const {
  return impl_->listener ? impl_->listener->port() : 0;
}
net::Endpoint Server::endpoint() const {
  return impl_->listener ? impl_->listener->endpoint() : net::Endpoint();
}
size_t Server::open_connections() const {
  return impl_->sessions.size();
}
uint64_t Server::requests_served() const {
  return impl_->served;
}

}  // namespace meridian::http
