#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixture.h"
#include "rewrite/api_subject.h"

namespace meridian::rewrite {
namespace {

using ::testing::HasSubstr;
using testing::J;

class ApiRequest : public ::testing::Test {
 protected:
  ApiAction Run(std::string_view subject, std::string_view body = "") {
    return rw.RewriteApiRequest(subject, body, out);
  }
  Rewriter rw = testing::WestRewriter();
  ApiResult out;
};

TEST_F(ApiRequest, RedirectsStreamInfoToReadStream) {
  ASSERT_EQ(Run("$JS.API.STREAM.INFO.foo"), ApiAction::kForward);
  EXPECT_EQ(out.subject, "$JS.API.STREAM.INFO.foo-read-west");
  EXPECT_FALSE(out.body_changed);
  EXPECT_EQ(out.expect.kind, ReplyKind::kStreamInfo);
}

TEST_F(ApiRequest, KeepsDomainPrefix) {
  ASSERT_EQ(Run("$JS.hub.API.STREAM.INFO.foo"), ApiAction::kForward);
  EXPECT_EQ(out.subject, "$JS.hub.API.STREAM.INFO.foo-read-west");
}

TEST_F(ApiRequest, RewritesSubjectsFilterOfStreamInfo) {
  ASSERT_EQ(Run("$JS.API.STREAM.INFO.foo", R"({"subjects_filter":"foo.>"})"), ApiAction::kForward);
  ASSERT_TRUE(out.body_changed);
  EXPECT_EQ(J(out.body)["subjects_filter"], "foo.*.>");
}

TEST_F(ApiRequest, RedirectsLegacyEphemeralConsumerCreateAndItsBody) {
  ASSERT_EQ(
      Run("$JS.API.CONSUMER.CREATE.foo",
          R"({"stream_name":"foo","config":{"ack_policy":"explicit","filter_subject":"foo.test"}})"),
      ApiAction::kForward);
  EXPECT_EQ(out.subject, "$JS.API.CONSUMER.CREATE.foo-read-west");
  auto body = J(out.body);
  EXPECT_EQ(body["stream_name"], "foo-read-west");
  EXPECT_EQ(body["config"]["filter_subject"], "foo.*.test");
  EXPECT_EQ(out.expect.kind, ReplyKind::kConsumerInfo);
}

TEST_F(ApiRequest, RedirectsNamedConsumerCreate) {
  ASSERT_EQ(Run("$JS.API.CONSUMER.CREATE.foo.dur",
                R"({"stream_name":"foo","config":{"durable_name":"dur"}})"),
            ApiAction::kForward);
  EXPECT_EQ(out.subject, "$JS.API.CONSUMER.CREATE.foo-read-west.dur");
  EXPECT_EQ(J(out.body)["stream_name"], "foo-read-west");
}

TEST_F(ApiRequest, RewritesConsumerFilterWithRegionWildcardInSubjectAndBody) {
  ASSERT_EQ(Run("$JS.API.CONSUMER.CREATE.foo.dur.foo.test",
                R"({"stream_name":"foo","config":{"name":"dur","filter_subject":"foo.test"}})"),
            ApiAction::kForward);
  EXPECT_EQ(out.subject, "$JS.API.CONSUMER.CREATE.foo-read-west.dur.foo.*.test");
  EXPECT_EQ(J(out.body)["config"]["filter_subject"], "foo.*.test");
}

TEST_F(ApiRequest, RewritesEveryEntryOfFilterSubjects) {
  ASSERT_EQ(Run("$JS.API.CONSUMER.CREATE.foo.d",
                R"({"stream_name":"foo","config":{"filter_subjects":["foo.a","foo.b.>","x.y"]}})"),
            ApiAction::kForward);
  EXPECT_EQ(J(out.body)["config"]["filter_subjects"], J(R"(["foo.*.a","foo.*.b.>","x.y"])"));
}

TEST_F(ApiRequest, KeepsUnknownBodyFields) {
  ASSERT_EQ(
      Run("$JS.API.CONSUMER.CREATE.foo.d",
          R"({"stream_name":"foo","action":"create","pedantic":false,"config":{"x_future":{"a":[1,2]},"filter_subject":"foo.a"}})"),
      ApiAction::kForward);
  auto body = J(out.body);
  EXPECT_EQ(body["action"], "create");
  EXPECT_EQ(body["pedantic"], false);
  EXPECT_EQ(body["config"]["x_future"], J(R"({"a":[1,2]})"));
}

TEST_F(ApiRequest, RedirectsDurableCreate) {
  ASSERT_EQ(Run("$JS.API.CONSUMER.DURABLE.CREATE.foo.dur",
                R"({"stream_name":"foo","config":{"durable_name":"dur"}})"),
            ApiAction::kForward);
  EXPECT_EQ(out.subject, "$JS.API.CONSUMER.DURABLE.CREATE.foo-read-west.dur");
  EXPECT_EQ(J(out.body)["stream_name"], "foo-read-west");
}

TEST_F(ApiRequest, RedirectsConsumerEndpointsByStreamToken) {
  struct Case {
    const char* in;
    const char* want;
    ReplyKind kind;
  };
  for (Case c :
       {Case{"$JS.API.CONSUMER.INFO.foo.dur", "$JS.API.CONSUMER.INFO.foo-read-west.dur",
             ReplyKind::kConsumerInfo},
        Case{"$JS.API.CONSUMER.DELETE.foo.dur", "$JS.API.CONSUMER.DELETE.foo-read-west.dur",
             ReplyKind::kApiGeneric},
        Case{"$JS.API.CONSUMER.NAMES.foo", "$JS.API.CONSUMER.NAMES.foo-read-west",
             ReplyKind::kConsumerNames},
        Case{"$JS.API.CONSUMER.LIST.foo", "$JS.API.CONSUMER.LIST.foo-read-west",
             ReplyKind::kConsumerList},
        Case{"$JS.API.CONSUMER.MSG.NEXT.foo.dur", "$JS.API.CONSUMER.MSG.NEXT.foo-read-west.dur",
             ReplyKind::kNone},
        Case{"$JS.API.CONSUMER.LEADER.STEPDOWN.foo.dur",
             "$JS.API.CONSUMER.LEADER.STEPDOWN.foo-read-west.dur", ReplyKind::kApiGeneric}}) {
    ASSERT_EQ(Run(c.in), ApiAction::kForward) << c.in;
    EXPECT_EQ(out.subject, c.want);
    EXPECT_EQ(out.expect.kind, c.kind) << c.in;
  }
}

TEST_F(ApiRequest, RefusesPurgeOfVirtualStream) {
  ASSERT_EQ(Run("$JS.API.STREAM.PURGE.foo"), ApiAction::kAnswer);
  auto j = J(out.answer);
  EXPECT_EQ(j["type"], "io.nats.jetstream.api.v1.stream_purge_response");
  EXPECT_EQ(j["error"]["code"], 400);
  EXPECT_EQ(j["error"]["err_code"], kRefusalErrCode);
  EXPECT_THAT(std::string(j["error"]["description"]), HasSubstr("topology"));
}

TEST_F(ApiRequest, RefusesCreateUpdateDeleteAndMessageDelete) {
  for (const char* s :
       {"$JS.API.STREAM.CREATE.foo", "$JS.API.STREAM.UPDATE.foo", "$JS.API.STREAM.DELETE.foo",
        "$JS.API.STREAM.MSG.DELETE.foo", "$JS.hub.API.STREAM.DELETE.foo"}) {
    EXPECT_EQ(Run(s, R"({"name":"foo"})"), ApiAction::kAnswer) << s;
    EXPECT_TRUE(J(out.answer).contains("error")) << s;
  }
}

TEST_F(ApiRequest, PassesThroughOtherStreamsAndInternalNames) {
  EXPECT_EQ(Run("$JS.API.STREAM.DELETE.bar"), ApiAction::kPassThrough);
  EXPECT_EQ(Run("$JS.API.STREAM.INFO.foo-read-west"), ApiAction::kPassThrough);
  EXPECT_EQ(Run("$JS.API.INFO"), ApiAction::kPassThrough);
  EXPECT_EQ(Run("$JS.API.STREAM.INFO.foo.extra"), ApiAction::kPassThrough);
  EXPECT_EQ(Run("$JS.API.NOT.A.THING"), ApiAction::kPassThrough);
}

TEST_F(ApiRequest, FansOutDirectGetLastBySubjectToEveryOrigin) {
  ASSERT_EQ(Run("$JS.API.DIRECT.GET.foo.foo.test"), ApiAction::kFanOut);
  ASSERT_EQ(out.parts.size(), 3u);
  EXPECT_EQ(out.parts[0].subject, "$JS.API.DIRECT.GET.foo-read-west.foo.east.test");
  EXPECT_EQ(out.parts[1].subject, "$JS.API.DIRECT.GET.foo-read-west.foo.central.test");
  EXPECT_EQ(out.parts[2].subject, "$JS.API.DIRECT.GET.foo-read-west.foo.west.test");
  EXPECT_TRUE(out.parts[0].body.empty());
  EXPECT_EQ(out.merge.kind, ReplyKind::kDirectGet);
}

TEST_F(ApiRequest, FansOutDirectGetLastBySubjBody) {
  ASSERT_EQ(Run("$JS.API.DIRECT.GET.foo", R"({"last_by_subj":"foo.test"})"), ApiAction::kFanOut);
  ASSERT_EQ(out.parts.size(), 3u);
  EXPECT_EQ(out.parts[1].subject, "$JS.API.DIRECT.GET.foo-read-west");
  EXPECT_EQ(J(out.parts[1].body)["last_by_subj"], "foo.central.test");
}

TEST_F(ApiRequest, FansOutMsgGetLastBySubj) {
  ASSERT_EQ(Run("$JS.API.STREAM.MSG.GET.foo", R"({"last_by_subj":"foo.test"})"),
            ApiAction::kFanOut);
  ASSERT_EQ(out.parts.size(), 3u);
  EXPECT_EQ(out.parts[2].subject, "$JS.API.STREAM.MSG.GET.foo-read-west");
  EXPECT_EQ(J(out.parts[2].body)["last_by_subj"], "foo.west.test");
  EXPECT_EQ(out.merge.kind, ReplyKind::kMsgGet);
}

TEST_F(ApiRequest, ForwardsGetBySequenceUnchanged) {
  ASSERT_EQ(Run("$JS.API.STREAM.MSG.GET.foo", R"({"seq":7})"), ApiAction::kForward);
  EXPECT_EQ(out.subject, "$JS.API.STREAM.MSG.GET.foo-read-west");
  EXPECT_FALSE(out.body_changed);
  EXPECT_EQ(out.expect.kind, ReplyKind::kMsgGet);
  ASSERT_EQ(Run("$JS.API.DIRECT.GET.foo", R"({"seq":7})"), ApiAction::kForward);
  EXPECT_EQ(out.subject, "$JS.API.DIRECT.GET.foo-read-west");
  EXPECT_EQ(out.expect.kind, ReplyKind::kDirectGet);
}

TEST_F(ApiRequest, RewritesNextBySubjWithRegionWildcard) {
  ASSERT_EQ(Run("$JS.API.DIRECT.GET.foo", R"({"next_by_subj":"foo.test","seq":3})"),
            ApiAction::kForward);
  auto body = J(out.body);
  EXPECT_EQ(body["next_by_subj"], "foo.*.test");
  EXPECT_EQ(body["seq"], 3);
}

TEST_F(ApiRequest, AnswersStreamNamesLookupForVirtualSubject) {
  ASSERT_EQ(Run("$JS.API.STREAM.NAMES", R"({"subject":"foo.test"})"), ApiAction::kAnswer);
  auto j = J(out.answer);
  EXPECT_EQ(j["type"], "io.nats.jetstream.api.v1.stream_names_response");
  EXPECT_EQ(j["total"], 1);
  EXPECT_EQ(j["streams"], J(R"(["foo"])"));
}

TEST_F(ApiRequest, TurnsStreamListLookupIntoReadStreamInfo) {
  ASSERT_EQ(Run("$JS.API.STREAM.LIST", R"({"subject":"foo.>"})"), ApiAction::kForward);
  EXPECT_EQ(out.subject, "$JS.API.STREAM.INFO.foo-read-west");
  EXPECT_TRUE(out.body_changed);
  EXPECT_TRUE(out.body.empty());
  EXPECT_EQ(out.expect.kind, ReplyKind::kStreamInfoAsList);
}

TEST_F(ApiRequest, ForwardsOtherStreamLookupsWithAPlanThatHidesInternalStreams) {
  ASSERT_EQ(Run("$JS.API.STREAM.NAMES"), ApiAction::kForward);
  EXPECT_EQ(out.subject, "$JS.API.STREAM.NAMES");
  EXPECT_EQ(out.expect.kind, ReplyKind::kStreamNames);
  ASSERT_EQ(Run("$JS.API.STREAM.LIST", R"({"subject":"bar.x"})"), ApiAction::kForward);
  EXPECT_FALSE(out.body_changed);
  EXPECT_EQ(out.expect.kind, ReplyKind::kStreamList);
}

TEST_F(ApiRequest, LeavesInvalidJsonBodyForTheServerToRefuse) {
  ASSERT_EQ(Run("$JS.API.CONSUMER.CREATE.foo.d", "{not json"), ApiAction::kForward);
  EXPECT_EQ(out.subject, "$JS.API.CONSUMER.CREATE.foo-read-west.d");
  EXPECT_FALSE(out.body_changed);
}

TEST(ApiSubjectParse, ReadsStreamTokenPositionsOfEveryEndpoint) {
  struct Case {
    const char* subject;
    ApiOp op;
    const char* stream;
  };
  for (Case c : {Case{"$JS.API.STREAM.INFO.S", ApiOp::kStreamInfo, "S"},
                 Case{"$JS.API.STREAM.MSG.GET.S", ApiOp::kStreamMsgGet, "S"},
                 Case{"$JS.API.CONSUMER.CREATE.S", ApiOp::kConsumerCreate, "S"},
                 Case{"$JS.API.CONSUMER.CREATE.S.C.f.>", ApiOp::kConsumerCreate, "S"},
                 Case{"$JS.API.CONSUMER.DURABLE.CREATE.S.C", ApiOp::kConsumerDurableCreate, "S"},
                 Case{"$JS.API.CONSUMER.MSG.NEXT.S.C", ApiOp::kConsumerMsgNext, "S"},
                 Case{"$JS.API.DIRECT.GET.S.a.b", ApiOp::kDirectGet, "S"},
                 Case{"$JS.d.API.STREAM.PURGE.S", ApiOp::kStreamPurge, "S"}}) {
    auto api = ParseApiSubject(c.subject);
    ASSERT_TRUE(api) << c.subject;
    EXPECT_EQ(api->op, c.op) << c.subject;
    EXPECT_EQ(std::string_view(c.subject).substr(api->stream.pos, api->stream.len), c.stream);
  }
  EXPECT_FALSE(ParseApiSubject("$JS.ACK.S.C.1.1.1.1.0"));
  EXPECT_FALSE(ParseApiSubject("$JS.API.CONSUMER.INFO.S"));
  EXPECT_FALSE(ParseApiSubject("$JS.API.STREAM..S"));
}

}  // namespace
}  // namespace meridian::rewrite

namespace meridian::rewrite {
namespace {

using testing::J;

class PerRegionFilters : public ::testing::Test {
 protected:
  void SetUp() override { rw.set_filter_style(FilterStyle::kPerRegionList); }
  Rewriter rw = testing::WestRewriter();
  ApiResult out;
  ReplyResult reply;
};

TEST_F(PerRegionFilters, ExpandsFilterIntoOneEntryPerRegionAndDropsSubjectTail) {
  ASSERT_EQ(
      rw.RewriteApiRequest(
          "$JS.API.CONSUMER.CREATE.foo.dur.foo.test",
          R"({"stream_name":"foo","config":{"name":"dur","filter_subject":"foo.test"}})", out),
      ApiAction::kForward);
  EXPECT_EQ(out.subject, "$JS.API.CONSUMER.CREATE.foo-read-west.dur");
  auto config = J(out.body)["config"];
  EXPECT_FALSE(config.contains("filter_subject"));
  EXPECT_EQ(config["filter_subjects"],
            J(R"(["foo.east.test","foo.central.test","foo.west.test"])"));
}

TEST_F(PerRegionFilters, KeepsRegionWildcardBeforeFullWildcard) {
  ASSERT_EQ(
      rw.RewriteApiRequest("$JS.API.CONSUMER.CREATE.foo.dur.foo.>",
                           R"({"stream_name":"foo","config":{"filter_subject":"foo.>"}})", out),
      ApiAction::kForward);
  EXPECT_EQ(out.subject, "$JS.API.CONSUMER.CREATE.foo-read-west.dur.foo.*.>");
  EXPECT_EQ(J(out.body)["config"]["filter_subject"], "foo.*.>");
}

TEST_F(PerRegionFilters, FoldsPerRegionListBackIntoTheClientsFilter) {
  ASSERT_EQ(
      rw.RewriteReply(
          ReplyPlan{ReplyKind::kConsumerInfo, 0}, "",
          R"({"stream_name":"foo-read-west","name":"dur","config":{"filter_subjects":["foo.east.test","foo.central.test","foo.west.test"]}})",
          reply),
      ReplyAction::kRewritten);
  auto config = J(reply.body)["config"];
  EXPECT_EQ(config["filter_subject"], "foo.test");
  EXPECT_FALSE(config.contains("filter_subjects"));
}

}  // namespace
}  // namespace meridian::rewrite
