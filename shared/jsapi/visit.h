// Internal to meridian_jsapi: each type's fields in nats-server's marshal order, with the
// server's omit-empty rule for each. One list drives both reading (ObjectReader) and writing
// (ObjectWriter), so the two can never disagree.
#pragma once

#include "jsapi/codec.h"
#include "jsapi/consumer.h"
#include "jsapi/error.h"
#include "jsapi/message.h"
#include "jsapi/stream.h"

namespace meridian::jsapi::internal {

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, ApiError>
void Visit(V& v, S& s) {
  v.Always("code", s.code);
  v.Omit("err_code", s.err_code);
  v.Omit("description", s.description);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, ErrorResponse>
void Visit(V& v, S& s) {
  v.Omit("type", s.type);
  v.Always("error", s.error);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, SubjectTransform>
void Visit(V& v, S& s) {
  v.Omit("src", s.src);
  v.Always("dest", s.dest);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, ExternalStream>
void Visit(V& v, S& s) {
  v.Always("api", s.api);
  v.Always("deliver", s.deliver);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, StreamSource>
void Visit(V& v, S& s) {
  v.Always("name", s.name);
  v.Omit("opt_start_seq", s.opt_start_seq);
  v.Omit("opt_start_time", s.opt_start_time);
  v.Omit("filter_subject", s.filter_subject);
  v.Omit("subject_transforms", s.subject_transforms);
  v.Omit("external", s.external);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, Placement>
void Visit(V& v, S& s) {
  v.Omit("cluster", s.cluster);
  v.Omit("tags", s.tags);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, Republish>
void Visit(V& v, S& s) {
  v.Omit("src", s.src);
  v.Always("dest", s.dest);
  v.Omit("headers_only", s.headers_only);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, StreamConsumerLimits>
void Visit(V& v, S& s) {
  v.Omit("inactive_threshold", s.inactive_threshold);
  v.Omit("max_ack_pending", s.max_ack_pending);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, StreamConfig>
void Visit(V& v, S& s) {
  v.Always("name", s.name);
  v.Omit("description", s.description);
  v.Omit("subjects", s.subjects);
  v.Always("retention", s.retention);
  v.Always("max_consumers", s.max_consumers);
  v.Always("max_msgs", s.max_msgs);
  v.Always("max_bytes", s.max_bytes);
  v.Always("max_age", s.max_age);
  v.Always("max_msgs_per_subject", s.max_msgs_per_subject);
  v.Omit("max_msg_size", s.max_msg_size);
  v.Always("discard", s.discard);
  v.Always("storage", s.storage);
  v.Always("num_replicas", s.num_replicas);
  v.Omit("no_ack", s.no_ack);
  v.Omit("template_owner", s.template_owner);
  v.Omit("duplicate_window", s.duplicate_window);
  v.Omit("placement", s.placement);
  v.Omit("mirror", s.mirror);
  v.Omit("sources", s.sources);
  v.Omit("compression", s.compression);
  v.Omit("first_seq", s.first_seq);
  v.Omit("subject_transform", s.subject_transform);
  v.Omit("republish", s.republish);
  v.Always("allow_direct", s.allow_direct);
  v.Always("mirror_direct", s.mirror_direct);
  v.Omit("discard_new_per_subject", s.discard_new_per_subject);
  v.Always("sealed", s.sealed);
  v.Always("deny_delete", s.deny_delete);
  v.Always("deny_purge", s.deny_purge);
  v.Always("allow_rollup_hdrs", s.allow_rollup_hdrs);
  v.Omit("consumer_limits", s.consumer_limits);
  v.Omit("metadata", s.metadata);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, LostStreamData>
void Visit(V& v, S& s) {
  v.Always("msgs", s.msgs);
  v.Always("bytes", s.bytes);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, StreamState>
void Visit(V& v, S& s) {
  v.Always("messages", s.messages);
  v.Always("bytes", s.bytes);
  v.Always("first_seq", s.first_seq);
  v.Always("first_ts", s.first_ts);
  v.Always("last_seq", s.last_seq);
  v.Always("last_ts", s.last_ts);
  v.Omit("num_subjects", s.num_subjects);
  v.Omit("subjects", s.subjects);
  v.Omit("num_deleted", s.num_deleted);
  v.Omit("deleted", s.deleted);
  v.Omit("lost", s.lost);
  v.Always("consumer_count", s.consumer_count);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, PeerInfo>
void Visit(V& v, S& s) {
  v.Always("name", s.name);
  v.Always("current", s.current);
  v.Omit("offline", s.offline);
  v.Always("active", s.active);
  v.Omit("lag", s.lag);
  v.Omit("peer", s.peer);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, ClusterInfo>
void Visit(V& v, S& s) {
  v.Omit("name", s.name);
  v.Omit("raft_group", s.raft_group);
  v.Omit("leader", s.leader);
  v.Omit("replicas", s.replicas);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, StreamSourceInfo>
void Visit(V& v, S& s) {
  v.Always("name", s.name);
  v.Omit("external", s.external);
  v.Always("lag", s.lag);
  v.Always("active", s.active);
  v.Omit("error", s.error);
  v.Omit("filter_subject", s.filter_subject);
  v.Omit("subject_transforms", s.subject_transforms);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, StreamAlternate>
void Visit(V& v, S& s) {
  v.Always("name", s.name);
  v.Omit("domain", s.domain);
  v.Always("cluster", s.cluster);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, StreamInfo>
void Visit(V& v, S& s) {
  v.Omit("type", s.type);
  v.Paged(s.paging);
  v.Always("config", s.config);
  v.Always("created", s.created);
  v.Always("state", s.state);
  v.Omit("domain", s.domain);
  v.Omit("cluster", s.cluster);
  v.Omit("mirror", s.mirror);
  v.Omit("sources", s.sources);
  v.Omit("alternates", s.alternates);
  v.Omit("ts", s.ts);
  v.Omit("did_create", s.did_create);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, StreamInfoRequest>
void Visit(V& v, S& s) {
  v.Omit("deleted_details", s.deleted_details);
  v.Omit("subjects_filter", s.subjects_filter);
  v.Omit("offset", s.offset);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, StreamNamesRequest>
void Visit(V& v, S& s) {
  v.Always("offset", s.offset);
  v.Omit("subject", s.subject);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, StreamNamesResponse>
void Visit(V& v, S& s) {
  v.Omit("type", s.type);
  v.Paged(s.paging);
  v.NullWhenEmpty("streams", s.streams);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, StreamListResponse>
void Visit(V& v, S& s) {
  v.Omit("type", s.type);
  v.Paged(s.paging);
  v.Always("streams", s.streams);
  v.Omit("missing", s.missing);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, PurgeRequest>
void Visit(V& v, S& s) {
  v.Omit("filter", s.filter);
  v.Omit("seq", s.seq);
  v.Omit("keep", s.keep);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, PurgeResponse>
void Visit(V& v, S& s) {
  v.Omit("type", s.type);
  v.Always("success", s.success);
  v.Always("purged", s.purged);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, SuccessResponse>
void Visit(V& v, S& s) {
  v.Omit("type", s.type);
  v.Always("success", s.success);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, ConsumerConfig>
void Visit(V& v, S& s) {
  v.Omit("durable_name", s.durable_name);
  v.Omit("name", s.name);
  v.Omit("description", s.description);
  v.Always("deliver_policy", s.deliver_policy);
  v.Omit("opt_start_seq", s.opt_start_seq);
  v.Omit("opt_start_time", s.opt_start_time);
  v.Always("ack_policy", s.ack_policy);
  v.Omit("ack_wait", s.ack_wait);
  v.Omit("max_deliver", s.max_deliver);
  v.Omit("backoff", s.backoff);
  v.Omit("filter_subject", s.filter_subject);
  v.Omit("filter_subjects", s.filter_subjects);
  v.Always("replay_policy", s.replay_policy);
  v.Omit("rate_limit_bps", s.rate_limit_bps);
  v.Omit("sample_freq", s.sample_freq);
  v.Omit("max_waiting", s.max_waiting);
  v.Omit("max_ack_pending", s.max_ack_pending);
  v.Omit("idle_heartbeat", s.idle_heartbeat);
  v.Omit("flow_control", s.flow_control);
  v.Omit("headers_only", s.headers_only);
  v.Omit("max_batch", s.max_batch);
  v.Omit("max_expires", s.max_expires);
  v.Omit("max_bytes", s.max_bytes);
  v.Omit("deliver_subject", s.deliver_subject);
  v.Omit("deliver_group", s.deliver_group);
  v.Omit("inactive_threshold", s.inactive_threshold);
  v.Always("num_replicas", s.num_replicas);
  v.Omit("mem_storage", s.mem_storage);
  v.Omit("direct", s.direct);
  v.Omit("metadata", s.metadata);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, CreateConsumerRequest>
void Visit(V& v, S& s) {
  v.Always("stream_name", s.stream_name);
  v.Always("config", s.config);
  v.Omit("action", s.action);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, SequenceInfo>
void Visit(V& v, S& s) {
  v.Always("consumer_seq", s.consumer_seq);
  v.Always("stream_seq", s.stream_seq);
  v.Omit("last_active", s.last_active);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, ConsumerInfo>
void Visit(V& v, S& s) {
  v.Omit("type", s.type);
  v.Always("stream_name", s.stream_name);
  v.Always("name", s.name);
  v.Always("created", s.created);
  v.Always("config", s.config);
  v.Always("delivered", s.delivered);
  v.Always("ack_floor", s.ack_floor);
  v.Always("num_ack_pending", s.num_ack_pending);
  v.Always("num_redelivered", s.num_redelivered);
  v.Always("num_waiting", s.num_waiting);
  v.Always("num_pending", s.num_pending);
  v.Omit("cluster", s.cluster);
  v.Omit("push_bound", s.push_bound);
  v.Omit("ts", s.ts);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, ConsumerNamesRequest>
void Visit(V& v, S& s) {
  v.Always("offset", s.offset);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, ConsumerNamesResponse>
void Visit(V& v, S& s) {
  v.Omit("type", s.type);
  v.Paged(s.paging);
  v.Always("consumers", s.consumers);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, ConsumerListResponse>
void Visit(V& v, S& s) {
  v.Omit("type", s.type);
  v.Paged(s.paging);
  v.Always("consumers", s.consumers);
  v.Omit("missing", s.missing);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, PullRequest>
void Visit(V& v, S& s) {
  v.Omit("expires", s.expires);
  v.Omit("batch", s.batch);
  v.Omit("max_bytes", s.max_bytes);
  v.Omit("no_wait", s.no_wait);
  v.Omit("idle_heartbeat", s.idle_heartbeat);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, PubAck>
void Visit(V& v, S& s) {
  v.Always("stream", s.stream);
  v.Omit("domain", s.domain);
  v.Always("seq", s.seq);
  v.Omit("duplicate", s.duplicate);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, MsgGetRequest>
void Visit(V& v, S& s) {
  v.Omit("seq", s.seq);
  v.Omit("last_by_subj", s.last_by_subj);
  v.Omit("next_by_subj", s.next_by_subj);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, StoredMsg>
void Visit(V& v, S& s) {
  v.Always("subject", s.subject);
  v.Always("seq", s.seq);
  v.Base64("hdrs", s.hdrs);
  v.Base64("data", s.data);
  v.Always("time", s.time);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, MsgGetResponse>
void Visit(V& v, S& s) {
  v.Omit("type", s.type);
  v.Always("message", s.message);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, AccountLimits>
void Visit(V& v, S& s) {
  v.Always("max_memory", s.max_memory);
  v.Always("max_storage", s.max_storage);
  v.Always("max_streams", s.max_streams);
  v.Always("max_consumers", s.max_consumers);
  v.Always("max_ack_pending", s.max_ack_pending);
  v.Always("memory_max_stream_bytes", s.memory_max_stream_bytes);
  v.Always("storage_max_stream_bytes", s.storage_max_stream_bytes);
  v.Always("max_bytes_required", s.max_bytes_required);
}

// The tier fields, shared by AccountTier and the top level of AccountInfo.
template <typename V, typename S>
void VisitTierFields(V& v, S& s) {
  v.Always("memory", s.memory);
  v.Always("storage", s.storage);
  v.Omit("reserved_memory", s.reserved_memory);
  v.Omit("reserved_storage", s.reserved_storage);
  v.Always("streams", s.streams);
  v.Always("consumers", s.consumers);
  v.Always("limits", s.limits);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, AccountTier>
void Visit(V& v, S& s) {
  VisitTierFields(v, s);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, ApiStats>
void Visit(V& v, S& s) {
  v.Always("total", s.total);
  v.Always("errors", s.errors);
}

template <typename V, typename S>
requires std::same_as<std::remove_const_t<S>, AccountInfo>
void Visit(V& v, S& s) {
  v.Omit("type", s.type);
  VisitTierFields(v, s.usage);
  v.Omit("domain", s.domain);
  v.Always("api", s.api);
  v.Omit("tiers", s.tiers);
}

// ---- the struct codecs declared in codec.h ---------------------------------------------

template <JsonStruct T>
void ReadValue(const Json& j, const std::string& path, T& out) {
  ObjectReader reader(j, path);
  Visit(reader, out);
  reader.Finish(out.unknown);
}

template <JsonStruct T>
Json WriteValue(const T& v) {
  Json j;
  ObjectWriter writer(j);
  Visit(writer, v);
  writer.Finish(v.unknown);
  return j;
}

}  // namespace meridian::jsapi::internal
