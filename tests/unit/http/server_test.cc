#include "http/server.h"

#include <gtest/gtest.h>

#include <optional>

#include "http/client.h"
#include "http/prometheus.h"
#include "net/connection.h"
#include "net/listener.h"
#include "net/loop.h"

namespace meridian::http {
namespace {

using std::chrono::milliseconds;

bool RunUntil(net::Loop& loop, const std::function<bool()>& done) {
  if (done()) return true;
  net::Timer poll = loop.Every(milliseconds(1), [&] {
    if (done()) loop.Stop();
  });
  loop.RunFor(milliseconds(5000));
  return done();
}

// A monitoring server on a free loopback port with a few routes.
struct Fixture {
  explicit Fixture(ServerOptions options = {}) : server(loop, options) {
    server.Route("GET", "/healthz",
                 [](const Request&) { return Response::Json("{\"status\":\"ok\"}"); });
    server.Route("GET", "/echo", [](const Request& r) {
      std::string body;
      for (const auto& [k, v] : r.query) body += k + "=" + v + ";";
      return Response::Text(body);
    });
    server.Route("POST", "/echo", [](const Request& r) { return Response::Text(r.body); });
    net::Status st = server.Listen(net::Endpoint::Tcp("127.0.0.1", 0));
    EXPECT_TRUE(st.ok()) << st.message();
  }
  std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(server.port()) + path;
  }
  net::Result<ClientResponse> Fetch(const std::string& path) {
    std::optional<net::Result<ClientResponse>> result;
    Get(loop, Url(path), milliseconds(3000),
        [&](net::Result<ClientResponse> r) { result.emplace(std::move(r)); });
    EXPECT_TRUE(RunUntil(loop, [&] { return result.has_value(); }));
    if (!result) return net::Status::Error("no result");
    return std::move(*result);
  }
  // Sends raw bytes on one connection and collects everything until the server closes or
  // `until` returns true.
  std::string Raw(const std::string& bytes, const std::function<bool(const std::string&)>& until,
                  std::optional<net::CloseInfo>* closed = nullptr) {
    std::string got;
    std::optional<net::CloseInfo> close_info;
    net::ConnectionPtr conn;
    net::Connect(loop, server.endpoint(), {}, [&](net::Result<net::ConnectionPtr> r) {
      ASSERT_TRUE(r.ok()) << r.message();
      conn = r.value();
      conn->SetReadHandler([&](std::string_view d) {
        got.append(d);
        return d.size();
      });
      conn->SetCloseHandler([&](const net::CloseInfo& i) { close_info = i; });
      conn->Write(bytes);
    });
    EXPECT_TRUE(RunUntil(loop, [&] { return close_info.has_value() || (until && until(got)); }));
    if (closed) *closed = close_info;
    if (conn && !close_info) {
      conn->Abort();
      RunUntil(loop, [&] { return close_info.has_value(); });
    }
    return got;
  }
  net::Loop loop;
  Server server;
};

TEST(HttpServer, HealthzAnswersJsonThroughTheClient) {
  Fixture f;
  auto r = f.Fetch("/healthz");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("content-type"), "application/json");
  EXPECT_EQ(r->body, "{\"status\":\"ok\"}");
}

TEST(HttpServer, QueryStringIsDecodedIntoAMap) {
  Fixture f;
  auto r = f.Fetch("/echo?b=x%20y&a=1&c&d=p+q");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->body, "a=1;b=x y;c=;d=p q;");
}

TEST(HttpServer, UnknownPathIs404) {
  Fixture f;
  auto r = f.Fetch("/nope");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->status, 404);
}

TEST(HttpServer, KnownPathWithAnotherMethodIs405WithAllow) {
  Fixture f;
  std::string got =
      f.Raw("DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", nullptr);
  EXPECT_EQ(got.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("Allow: GET\r\n"), std::string::npos) << got;
}

TEST(HttpServer, MalformedRequestIs400AndCloses) {
  Fixture f;
  std::optional<net::CloseInfo> closed;
  std::string got = f.Raw("GARBAGE\r\n\r\n", nullptr, &closed);
  EXPECT_EQ(got.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << got;
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->reason, net::CloseReason::kPeerClosed);
}

TEST(HttpServer, OverLimitRequestIs413AndCloses) {
  ServerOptions options;
  options.max_request_bytes = 1024;
  Fixture f(options);
  std::string body(4096, 'x');
  std::optional<net::CloseInfo> closed;
  std::string got = f.Raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n" + body,
                          nullptr, &closed);
  EXPECT_EQ(got.rfind("HTTP/1.1 413 Payload Too Large\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("larger than 1024 bytes"), std::string::npos);
  EXPECT_TRUE(closed.has_value());
}

TEST(HttpServer, HugeHeaderIs413) {
  ServerOptions options;
  options.max_request_bytes = 512;
  Fixture f(options);
  std::string got =
      f.Raw("GET /healthz HTTP/1.1\r\nX-Big: " + std::string(2000, 'h') + "\r\n\r\n", nullptr);
  EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got.substr(0, 100);
}

TEST(HttpServer, KeepAliveServesPipelinedRequestsOnOneConnection) {
  Fixture f;
  std::string two =
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
  std::optional<net::CloseInfo> closed;
  std::string got = f.Raw(
      two, [](const std::string& s) { return s.size() > 5 && s.ends_with("hello"); }, &closed);
  EXPECT_FALSE(closed.has_value()) << "the server closed a keep-alive connection";
  EXPECT_EQ(got.find("HTTP/1.1 200 OK\r\n"), 0u);
  EXPECT_NE(got.find("Connection: keep-alive"), std::string::npos);
  EXPECT_NE(got.find("HTTP/1.1 200 OK\r\n", 10), std::string::npos);
  EXPECT_EQ(f.server.requests_served(), 2u);
}

TEST(HttpServer, RequestSplitAcrossManyWritesIsStillServed) {
  Fixture f;
  std::string got;
  std::optional<net::CloseInfo> closed;
  net::ConnectionPtr conn;
  std::string request = "GET /echo?k=v HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  size_t next = 0;
  net::Timer drip;
  net::Connect(f.loop, f.server.endpoint(), {}, [&](net::Result<net::ConnectionPtr> r) {
    ASSERT_TRUE(r.ok());
    conn = r.value();
    conn->SetReadHandler([&](std::string_view d) {
      got.append(d);
      return d.size();
    });
    conn->SetCloseHandler([&](const net::CloseInfo& i) { closed = i; });
    drip = f.loop.Every(milliseconds(1), [&] {
      if (next < request.size()) conn->Write(std::string_view(request).substr(next++, 1));
    });
  });
  ASSERT_TRUE(RunUntil(f.loop, [&] { return closed.has_value(); }));
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  EXPECT_TRUE(got.ends_with("k=v;")) << got;
}

TEST(HttpServer, HeadAnswersLikeGetWithoutABody) {
  Fixture f;
  std::string got =
      f.Raw("HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", nullptr);
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("Content-Length: 15\r\n"), std::string::npos) << got;
  EXPECT_TRUE(got.ends_with("\r\n\r\n")) << got;
}

TEST(HttpServer, ClosedConnectionsAreForgotten) {
  Fixture f;
  ASSERT_TRUE(f.Fetch("/healthz").ok());
  ASSERT_TRUE(RunUntil(f.loop, [&] { return f.server.open_connections() == 0; }));
}

TEST(HttpClient, RefusedConnectionIsASentence) {
  net::Loop loop;
  uint16_t port;
  {
    auto l =
        net::Listener::Listen(loop, net::Endpoint::Tcp("127.0.0.1", 0), [](net::ConnectionPtr) {});
    ASSERT_TRUE(l.ok());
    port = (*l)->port();
  }
  std::optional<net::Result<ClientResponse>> result;
  Get(loop, "http://127.0.0.1:" + std::to_string(port) + "/healthz", milliseconds(2000),
      [&](net::Result<ClientResponse> r) { result.emplace(std::move(r)); });
  ASSERT_TRUE(RunUntil(loop, [&] { return result.has_value(); }));
  ASSERT_FALSE(result->ok());
  EXPECT_NE(result->message().find("GET http://127.0.0.1:"), std::string::npos);
  EXPECT_NE(result->message().find("refused"), std::string::npos) << result->message();
}

TEST(HttpClient, ServerThatNeverAnswersTimesOut) {
  net::Loop loop;
  std::vector<net::ConnectionPtr> silent;
  auto l =
      net::Listener::Listen(loop, net::Endpoint::Tcp("127.0.0.1", 0), [&](net::ConnectionPtr c) {
        c->SetReadHandler([](std::string_view d) { return d.size(); });
        silent.push_back(std::move(c));
      });
  ASSERT_TRUE(l.ok());
  std::optional<net::Result<ClientResponse>> result;
  Get(loop, "http://127.0.0.1:" + std::to_string((*l)->port()) + "/", milliseconds(100),
      [&](net::Result<ClientResponse> r) { result.emplace(std::move(r)); });
  ASSERT_TRUE(RunUntil(loop, [&] { return result.has_value(); }));
  ASSERT_FALSE(result->ok());
  EXPECT_NE(result->message().find("no complete response within 100 ms"), std::string::npos)
      << result->message();
}

TEST(HttpClient, ResponseWithoutContentLengthEndsAtClose) {
  net::Loop loop;
  auto l =
      net::Listener::Listen(loop, net::Endpoint::Tcp("127.0.0.1", 0), [&](net::ConnectionPtr c) {
        net::Connection* raw = c.get();
        c->SetReadHandler([raw](std::string_view d) {
          if (std::string_view(d).find("\r\n\r\n") != std::string_view::npos) {
            raw->Write("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil eof");
            raw->Close();
          }
          return d.size();
        });
        c->SetCloseHandler([c](const net::CloseInfo&) {});
      });
  ASSERT_TRUE(l.ok());
  std::optional<net::Result<ClientResponse>> result;
  Get(loop, "http://localhost:" + std::to_string((*l)->port()) + "/x", milliseconds(2000),
      [&](net::Result<ClientResponse> r) { result.emplace(std::move(r)); });
  ASSERT_TRUE(RunUntil(loop, [&] { return result.has_value(); }));
  ASSERT_TRUE(result->ok()) << result->message();
  EXPECT_EQ((*result)->body, "until eof");
}

TEST(HttpClient, NonHttpUrlIsRefused) {
  net::Loop loop;
  std::optional<net::Result<ClientResponse>> result;
  Get(loop, "https://example.com/", milliseconds(100),
      [&](net::Result<ClientResponse> r) { result.emplace(std::move(r)); });
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->ok());
  EXPECT_NE(result->message().find("only http:// URLs"), std::string::npos);
}

}  // namespace
}  // namespace meridian::http

namespace meridian::http {
namespace {

TEST(HttpServer, MetricsEndpointServesPrometheusText) {
  net::Loop loop;
  Server server(loop);
  server.Route("GET", "/metrics", [](const Request&) {
    MetricsText m;
    m.Counter("meridian_requests_total", "Requests.", 5, {{"route", "/healthz"}});
    Response r = Response::Text(m.Take());
    r.content_type = kPrometheusContentType;
    return r;
  });
  ASSERT_TRUE(server.Listen(net::Endpoint::Tcp("127.0.0.1", 0)).ok());
  std::optional<net::Result<ClientResponse>> result;
  Get(loop, "http://127.0.0.1:" + std::to_string(server.port()) + "/metrics",
      std::chrono::milliseconds(2000),
      [&](net::Result<ClientResponse> r) { result.emplace(std::move(r)); });
  ASSERT_TRUE(RunUntil(loop, [&] { return result.has_value(); }));
  ASSERT_TRUE(result->ok()) << result->message();
  EXPECT_EQ((*result)->Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ((*result)->body,
            "# HELP meridian_requests_total Requests.\n"
            "# TYPE meridian_requests_total counter\n"
            "meridian_requests_total{route=\"/healthz\"} 5\n");
}

}  // namespace
}  // namespace meridian::http
