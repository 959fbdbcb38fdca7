#include "consumers.h"

namespace meridian::sidecar_it {

Ack JsPublish(natsConnection* nc, const std::string& subject, const std::string& payload,
              const jsPubOptions* opts) {
  JetStream js = JetStreamOf(nc);
  jsPubAck* ack = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  jsPubOptions copy;
  jsPubOptions_Init(&copy);
  if (opts != nullptr) copy = *opts;
  Check(js_Publish(&ack, js.get(), subject.c_str(), payload.data(),
                   static_cast<int>(payload.size()), &copy, &err),
        "js_Publish " + subject + " (JetStream error " + std::to_string(err) + ")");
  Ack out{ack->Stream ? ack->Stream : "", ack->Sequence, ack->Duplicate};
  jsPubAck_Destroy(ack);
  return out;
}

std::vector<Received> ReceiveUntil(natsSubscription* sub, bool pull,
                                   const std::set<std::string>& wanted, bool ack,
                                   std::chrono::milliseconds timeout) {
  std::vector<Received> got;
  std::set<std::string> missing = wanted;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!missing.empty() && std::chrono::steady_clock::now() < deadline) {
    std::vector<natsMsg*> batch;
    natsMsgList list{};
    if (pull) {
      jsErrCode err = static_cast<jsErrCode>(0);
      if (natsSubscription_Fetch(&list, sub, 64, 1000, &err) == NATS_OK) {
        for (int i = 0; i < list.Count; ++i) batch.push_back(list.Msgs[i]);
      }
    } else {
      natsMsg* m = nullptr;
      if (natsSubscription_NextMsg(&m, sub, 500) == NATS_OK) batch.push_back(m);
    }
    for (natsMsg* m : batch) {
      Received r;
      r.subject = natsMsg_GetSubject(m);
      r.payload = DataOf(m);
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
        r.stream = meta->Stream ? meta->Stream : "";
        r.delivered = meta->NumDelivered;
        r.stream_seq = meta->Sequence.Stream;
        jsMsgMetaData_Destroy(meta);
      }
      if (ack) {
        jsErrCode err = static_cast<jsErrCode>(0);
        Check(natsMsg_AckSync(m, nullptr, &err), "ack of " + r.subject + " " + r.payload);
      }
      missing.erase(r.payload);
      got.push_back(std::move(r));
    }
    if (pull) {
      natsMsgList_Destroy(&list);
    } else {
      for (natsMsg* m : batch) natsMsg_Destroy(m);
    }
  }
  return got;
}

std::string Missing(const std::set<std::string>& wanted, const std::vector<Received>& got) {
  std::set<std::string> missing = wanted;
  for (const auto& r : got) missing.erase(r.payload);
  std::string out;
  for (const auto& m : missing) out += (out.empty() ? "" : ", ") + m;
  return out.empty() ? "(none)" : out;
}

}  // namespace meridian::sidecar_it
