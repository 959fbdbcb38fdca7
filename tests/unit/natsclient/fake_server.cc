#include "fake_server.h"

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "net/listener.h"
#include "proto/parser.h"
#include "proto/writer.h"

namespace meridian::natsclient::testing {

namespace {

struct Session {
  net::ConnectionPtr conn;
  proto::Parser parser{proto::Direction::kClientToServer};
  std::map<std::string, std::string> subs;  // sid -> subject
};

bool Matches(const std::string& pattern, const std::string& subject) {
  if (pattern.size() >= 2 && pattern.compare(pattern.size() - 2, 2, ".*") == 0) {
    std::string prefix = pattern.substr(0, pattern.size() - 1);
    return subject.size() > prefix.size() && subject.compare(0, prefix.size(), prefix) == 0 &&
           subject.find('.', prefix.size()) == std::string::npos;
  }
  return pattern == subject;
}

}  // namespace

FakeServer::FakeServer(std::string user, std::string password)
    : user_(std::move(user)), password_(std::move(password)) {
  std::promise<uint16_t> ready;
  auto f = ready.get_future();
  thread_ = std::thread([this, p = std::move(ready)]() mutable { Main(std::move(p)); });
  port_ = f.get();
}

FakeServer::~FakeServer() {
  loop_->Post([this] { loop_->Stop(); });
  thread_.join();
}

std::string FakeServer::last_connect() {
  std::lock_guard<std::mutex> lock(mu_);
  return last_connect_;
}

void FakeServer::Main(std::promise<uint16_t> ready) {
  net::Loop loop;
  loop_ = &loop;
  std::vector<std::shared_ptr<Session>> sessions;
  auto send = [](Session& s, proto::Writer& w) {
    s.conn->Write(w.ToString());
    w.Clear();
  };
  auto deliver = [&](const std::string& subject, const std::string& headers,
                     const std::string& payload) {
    for (auto& s : sessions) {
      if (!s->conn || s->conn->closing()) continue;
      for (const auto& [sid, pattern] : s->subs) {
        if (!Matches(pattern, subject)) continue;
        proto::Writer w;
        if (headers.empty()) {
          w.Msg(subject, sid, {}, payload);
        } else {
          w.Hmsg(subject, sid, {}, headers, payload);
        }
        send(*s, w);
      }
    }
  };
  auto listener =
      net::Listener::Listen(loop, net::Endpoint::Tcp("127.0.0.1", 0), [&](net::ConnectionPtr c) {
        auto s = std::make_shared<Session>();
        s->conn = c;
        sessions.push_back(s);
        Session* sp = s.get();
        c->SetCloseHandler([sp](const net::CloseInfo&) { sp->conn.reset(); });
        c->SetReadHandler([&, sp](std::string_view data) -> size_t {
          sp->parser.Feed(data);
          proto::Op op;
          while (sp->conn && sp->parser.Next(op) == proto::Parser::Result::kOp) {
            proto::Writer w;
            switch (op.kind) {
              case proto::OpKind::kConnect: {
                {
                  std::lock_guard<std::mutex> lock(mu_);
                  last_connect_.assign(op.text);
                }
                auto j = nlohmann::json::parse(op.text, nullptr, false);
                if (!user_.empty() &&
                    (j.value("user", "") != user_ || j.value("pass", "") != password_)) {
                  w.Err("Authorization Violation");
                  send(*sp, w);
                  sp->conn->Close();
                  return data.size();
                }
                break;
              }
              case proto::OpKind::kPing:
                w.Pong();
                send(*sp, w);
                break;
              case proto::OpKind::kSub:
                sp->subs[std::string(op.sid)] = std::string(op.subject);
                break;
              case proto::OpKind::kUnsub:
                // UNSUB with a max is ignored, so tests see the client enforce it itself.
                if (!op.has_max_msgs) sp->subs.erase(std::string(op.sid));
                break;
              case proto::OpKind::kPub:
              case proto::OpKind::kHpub: {
                std::string subject(op.subject), reply(op.reply), payload(op.payload);
                std::string headers(op.headers);
                if (subject == "svc.echo") {
                  deliver(reply, {}, payload);
                } else if (subject == "svc.none") {
                  deliver(reply, "NATS/1.0 503\r\n\r\n", {});
                } else if (subject == "svc.many") {
                  for (const char* p : {"1", "2", "3"}) deliver(reply, {}, p);
                } else if (subject == "svc.close") {
                  sp->conn->Abort();
                  return data.size();
                } else if (subject != "svc.silent") {
                  deliver(subject, headers, payload);
                }
                break;
              }
              default:
                break;
            }
          }
          return data.size();
        });
        proto::Writer w;
        w.Info(R"({"server_id":"FAKE","server_name":"fake-1","version":"2.9.10","headers":true,)"
               R"("max_payload":1048576,"proto":1})");
        c->Write(w.ToString());
      });
  ready.set_value(listener.ok() ? listener.value()->port() : 0);
  loop.Run();
  for (auto& s : sessions) {
    if (s->conn) s->conn->DetachHandlers();
  }
}

}  // namespace meridian::natsclient::testing
