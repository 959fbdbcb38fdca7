#include "http/request.h"

#include <gtest/gtest.h>

#include "http/prometheus.h"

namespace meridian::http {
namespace {

std::vector<Request> ParseAll(RequestParser& p, std::string_view bytes,
                              std::optional<RequestParser::Error>* error = nullptr) {
  std::vector<Request> out;
  auto e = p.Feed(bytes, [&](Request& r) {
    out.push_back(r);
    return true;
  });
  if (error) *error = e;
  return out;
}

TEST(RequestParser, SplitsPathAndDecodesQuery) {
  RequestParser p(4096);
  auto reqs = ParseAll(p, "GET /a%20b?x=1&y=%2F HTTP/1.1\r\nHost: h\r\nX-Trace: 7\r\n\r\n");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].path, "/a b");
  EXPECT_EQ(reqs[0].target, "/a%20b?x=1&y=%2F");
  EXPECT_EQ(reqs[0].query.at("y"), "/");
  EXPECT_EQ(reqs[0].Header("x-trace"), "7");
  EXPECT_TRUE(reqs[0].keep_alive);
}

TEST(RequestParser, ByteAtATimeGivesTheSameRequest) {
  std::string text = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  RequestParser p(4096);
  std::vector<Request> reqs;
  for (char c : text) {
    auto more = ParseAll(p, std::string_view(&c, 1));
    reqs.insert(reqs.end(), more.begin(), more.end());
  }
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "abc");
  EXPECT_EQ(reqs[0].Header("Host"), "h");
}

TEST(RequestParser, ConnectionCloseStopsAfterThatRequest) {
  RequestParser p(4096);
  auto reqs = ParseAll(p,
                       "GET /1 HTTP/1.1\r\nConnection: close\r\n\r\n"
                       "GET /2 HTTP/1.1\r\n\r\n");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_FALSE(reqs[0].keep_alive);
  EXPECT_TRUE(p.stopped());
}

TEST(RequestParser, Http10WithoutKeepAliveCloses) {
  RequestParser p(4096);
  auto reqs = ParseAll(p, "GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_FALSE(reqs[0].keep_alive);
}

TEST(RequestParser, GarbageIs400AndStaysAnError) {
  RequestParser p(4096);
  std::optional<RequestParser::Error> e;
  ParseAll(p, "\x01\x02 nonsense\r\n\r\n", &e);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status, 400);
  EXPECT_NE(e->reason.find("not valid HTTP/1.1"), std::string::npos);
  ParseAll(p, "GET / HTTP/1.1\r\n\r\n", &e);
  ASSERT_TRUE(e.has_value());
}

TEST(RequestParser, BodyOverTheLimitIs413) {
  RequestParser p(100);
  std::optional<RequestParser::Error> e;
  auto reqs =
      ParseAll(p, "POST / HTTP/1.1\r\nContent-Length: 200\r\n\r\n" + std::string(200, 'x'), &e);
  EXPECT_TRUE(reqs.empty());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status, 413);
}

TEST(RequestParser, LimitAppliesPerRequestNotPerConnection) {
  RequestParser p(64);
  std::string one = "GET /abc HTTP/1.1\r\nHost: h\r\n\r\n";
  std::optional<RequestParser::Error> e;
  size_t total = 0;
  for (int i = 0; i < 10; ++i) total += ParseAll(p, one, &e).size();
  EXPECT_FALSE(e.has_value());
  EXPECT_EQ(total, 10u);
}

TEST(ParseQuery, HandlesEmptyPartsMissingValuesAndBadEscapes) {
  auto q = ParseQuery("&a=&b&&c=%zz&d=%41");
  EXPECT_EQ(q.size(), 4u);
  EXPECT_EQ(q["a"], "");
  EXPECT_EQ(q["b"], "");
  EXPECT_EQ(q["c"], "%zz");
  EXPECT_EQ(q["d"], "A");
}

TEST(MetricsText, WritesHelpAndTypeOnceThenSamples) {
  MetricsText m;
  m.Counter("meridian_msgs_total", "Messages forwarded.", 42, {{"dir", "in"}});
  m.Counter("meridian_msgs_total", "Messages forwarded.", 7, {{"dir", "out"}});
  m.Gauge("meridian_clients", "Connected clients.", 3);
  EXPECT_EQ(m.text(),
            "# HELP meridian_msgs_total Messages forwarded.\n"
            "# TYPE meridian_msgs_total counter\n"
            "meridian_msgs_total{dir=\"in\"} 42\n"
            "meridian_msgs_total{dir=\"out\"} 7\n"
            "# HELP meridian_clients Connected clients.\n"
            "# TYPE meridian_clients gauge\n"
            "meridian_clients 3\n");
}

TEST(MetricsText, EscapesLabelValuesAndHelp) {
  MetricsText m;
  m.Gauge("g", "line one\nback\\slash", 1.5, {{"path", "a\"b\\c\nd"}, {"x", "y"}});
  EXPECT_EQ(m.text(),
            "# HELP g line one\\nback\\\\slash\n"
            "# TYPE g gauge\n"
            "g{path=\"a\\\"b\\\\c\\nd\",x=\"y\"} 1.5\n");
}

TEST(MetricsText, SpecialValuesUseTheFormatsSpelling) {
  MetricsText m;
  m.Gauge("a", "h", std::numeric_limits<double>::infinity());
  m.Gauge("b", "h", -std::numeric_limits<double>::infinity());
  m.Gauge("c", "h", std::numeric_limits<double>::quiet_NaN());
  EXPECT_NE(m.text().find("\na +Inf\n"), std::string::npos);
  EXPECT_NE(m.text().find("\nb -Inf\n"), std::string::npos);
  EXPECT_NE(m.text().find("\nc NaN\n"), std::string::npos);
}

TEST(MetricsText, RefusesAFamilySplitInTwoAndBadNames) {
  MetricsText m;
  m.Counter("a_total", "h", 1);
  m.Counter("b_total", "h", 1);
  EXPECT_THROW(m.Counter("a_total", "h", 2), std::logic_error);
  EXPECT_THROW(m.Gauge("1bad", "h", 1), std::logic_error);
  EXPECT_THROW(m.Gauge("ok", "h", 1, {{"bad-label", "v"}}), std::logic_error);
}

}  // namespace
}  // namespace meridian::http
