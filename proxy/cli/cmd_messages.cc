// pub, req, sub.
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/cli.h"
#include "proto/headers.h"

namespace meridian::cli {

namespace {

std::string BuildHeaders(const Invocation& inv) {
  auto hs = inv.args.GetAll("header");
  if (hs.empty()) return {};
  proto::HeaderBuilder b;
  for (const auto& h : hs) {
    size_t colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      throw UsageError("--header wants Name:Value, not \"" + h + "\"");
    }
    std::string value = h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (b.Add(h.substr(0, colon), value) != proto::HeaderError::kNone) {
      throw UsageError("--header \"" + h + "\" is not a valid header line");
    }
  }
  return std::string(b.block());
}

std::string ReplaceCount(std::string body, uint64_t n) {
  static const std::string kToken = "{{Count}}";
  for (size_t p; (p = body.find(kToken)) != std::string::npos;) {
    body.replace(p, kToken.size(), std::to_string(n));
  }
  return body;
}

void PrintMessage(std::ostream& out, const natsclient::OwnedMsg& m, uint64_t n, bool raw,
                  bool json) {
  if (json) {
    nlohmann::json j = {{"subject", m.subject}, {"data", m.payload}};
    if (!m.reply.empty()) j["reply"] = m.reply;
    if (!m.headers.empty()) {
      nlohmann::json h = nlohmann::json::object();
      proto::HeaderView v;
      if (proto::HeaderView::Parse(m.headers, &v) == proto::HeaderError::kNone) {
        for (auto f : v) h[std::string(f.name)].push_back(std::string(f.value));
        if (v.status()) j["status"] = v.status();
      }
      j["headers"] = h;
    }
    out << j.dump() << "\n";
    return;
  }
  if (raw) {
    out << m.payload << "\n";
    return;
  }
  out << "[#" << n << "] Received on \"" << m.subject << "\"";
  if (!m.reply.empty()) out << " with reply \"" << m.reply << "\"";
  out << "\n";
  if (!m.headers.empty()) {
    proto::HeaderView v;
    if (proto::HeaderView::Parse(m.headers, &v) == proto::HeaderError::kNone) {
      for (auto f : v) out << f.name << ": " << f.value << "\n";
    }
  }
  out << m.payload << "\n\n";
}

int Pub(Invocation& inv) {
  const std::string& subject = inv.Operand(0, "the subject to publish to");
  std::string body = inv.operands.size() > 1 ? inv.operands[1] : "";
  uint64_t count = inv.args.Get("count") ? ParseCount(*inv.args.Get("count"), "count") : 1;
  std::string headers = BuildHeaders(inv);
  auto nc = inv.Connect();
  for (uint64_t i = 1; i <= count; ++i) {
    auto s = nc->Publish(subject, ReplaceCount(body, i), headers);
    if (!s.ok()) throw CliError(s.message());
  }
  auto s = nc->Flush();
  if (!s.ok()) throw CliError(s.message());
  if (inv.json()) {
    inv.out << nlohmann::json{{"subject", subject}, {"published", count}}.dump() << "\n";
  } else {
    inv.out << "Published " << count << " message" << (count == 1 ? "" : "s") << " to \"" << subject
            << "\"\n";
  }
  return 0;
}

int Req(Invocation& inv) {
  const std::string& subject = inv.Operand(0, "the subject to send the request to");
  std::string body = inv.operands.size() > 1 ? inv.operands[1] : "";
  auto timeout = ParseDuration(inv.args.Get("timeout").value_or("5s"));
  std::string headers = BuildHeaders(inv);
  auto nc = inv.Connect();
  auto reply = nc->Request(subject, body, timeout, headers);
  if (!reply.ok()) throw CliError(reply.message());
  PrintMessage(inv.out, *reply, 1, inv.args.Has("raw") || !inv.json(), inv.json());
  return 0;
}

int Sub(Invocation& inv) {
  const std::string& subject = inv.Operand(0, "the subject to subscribe to");
  uint64_t count = inv.args.Get("count") ? ParseCount(*inv.args.Get("count"), "count") : 0;
  auto timeout = inv.args.Get("timeout") ? ParseDuration(*inv.args.Get("timeout"))
                                         : std::chrono::milliseconds(24LL * 3600 * 1000);
  auto nc = inv.Connect();
  auto s = nc->Subscribe(subject, inv.args.Get("queue").value_or(""));
  if (!s.ok()) throw CliError(s.message());
  // On stderr, so that stdout stays only messages (--json, --raw) and scripts can wait for it.
  inv.err << "Subscribing on \"" << subject << "\"" << std::endl;
  for (uint64_t n = 1; count == 0 || n <= count; ++n) {
    auto m = nc->NextMessage(timeout);
    if (!m.ok()) throw CliError(m.message());
    PrintMessage(inv.out, *m, n, inv.args.Has("raw"), inv.json());
    inv.out.flush();
  }
  return 0;
}

}  // namespace

void RegisterMessageCommands(CommandRegistry& r) {
  r.Add({{"pub"},
         "pub <subject> [body] [--count N] [--header K:V]...",
         "publish a message",
         "    Publishes <body> (empty when left out) to <subject> and waits until the server\n"
         "    has it (PING/PONG). With --count N it publishes N messages; {{Count}} in the body\n"
         "    becomes 1, 2, ... N.\n",
         "      --count N          publish N messages (default 1)\n"
         "  -H, --header K:V       add a header (repeatable)\n"
         "      --json             print {subject, published} as JSON\n",
         Pub});
  r.Add({{"req"},
         "req <subject> [body] [--timeout 5s] [--header K:V]...",
         "send a request and print the reply",
         "    Sends <body> to <subject> with a reply inbox and prints the first reply's body.\n"
         "    Fails when nothing answers (no responders) or no reply comes within --timeout.\n",
         "      --timeout D        how long to wait for the reply (default 5s)\n"
         "  -H, --header K:V       add a header (repeatable)\n"
         "      --raw              print only the body (the default without --json)\n"
         "      --json             print the reply as JSON {subject, data, headers}\n",
         Req});
  r.Add({{"sub"},
         "sub <subject> [--count N] [--queue Q] [--timeout D] [--raw|--json]",
         "print the messages published to a subject",
         "    Subscribes to <subject> (wildcards allowed) and prints every message with its\n"
         "    subject, headers and body, until --count messages arrived or interrupted.\n"
         "    Fails when --timeout passes without a message.\n",
         "      --count N          stop after N messages\n"
         "      --queue Q          join queue group Q\n"
         "      --timeout D        fail when no message arrives for D\n"
         "      --raw              print only the bodies\n"
         "      --json             one JSON object per message\n",
         Sub});
}

}  // namespace meridian::cli
