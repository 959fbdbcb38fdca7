// libnats JetStream helpers shared by the node_jetstream tests: RAII holders and connect.
#pragma once
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <memory>
#include <string>

#include "harness/libnats_ptr.h"

namespace meridian::node_js_it {

struct PubAckDeleter {
  void operator()(jsPubAck* p) const { jsPubAck_Destroy(p); }
};
struct StreamInfoDeleter {
  void operator()(jsStreamInfo* s) const { jsStreamInfo_Destroy(s); }
};
struct KvDeleter {
  void operator()(kvStore* k) const { kvStore_Destroy(k); }
};
struct KvEntryDeleter {
  void operator()(kvEntry* e) const { kvEntry_Destroy(e); }
};
using Nc = harness::Nc;
using Js = harness::Js;
using Sub = harness::Sub;
using Msg = harness::Msg;
using PubAck = std::unique_ptr<jsPubAck, PubAckDeleter>;
using StreamInfo = std::unique_ptr<jsStreamInfo, StreamInfoDeleter>;
using Kv = std::unique_ptr<kvStore, KvDeleter>;
using KvEntry = std::unique_ptr<kvEntry, KvEntryDeleter>;

inline Nc Connect(const std::string& url) {
  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  natsOptions_SetURL(opts, url.c_str());
  natsOptions_SetAllowReconnect(opts, false);
  natsOptions_SetTimeout(opts, 5000);
  natsConnection* nc = nullptr;
  natsStatus s = natsConnection_Connect(&nc, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) ADD_FAILURE() << "connect to " << url << ": " << natsStatus_GetText(s);
  return Nc(nc);
}

inline Js JetStream(natsConnection* nc, jsOptions* opts = nullptr) {
  jsCtx* js = nullptr;
  jsOptions o;
  if (opts == nullptr) {
    jsOptions_Init(&o);
    o.Wait = 10000;
    opts = &o;
  }
  natsStatus s = natsConnection_JetStream(&js, nc, opts);
  if (s != NATS_OK) ADD_FAILURE() << "JetStream context: " << natsStatus_GetText(s);
  return Js(js);
}

// Creates a file stream `name` on `subject`; fails the test otherwise.
inline void AddFileStream(jsCtx* js, const char* name, const char* subject) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name;
  const char* subjects[] = {subject};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&si, js, &cfg, nullptr, &code);
  ASSERT_EQ(s, NATS_OK) << "add stream " << name << ": " << natsStatus_GetText(s) << " "
                        << nats_GetLastError(nullptr) << " code " << code;
  jsStreamInfo_Destroy(si);
}

inline std::string Data(natsMsg* m) {
  return std::string(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
}

}  // namespace meridian::node_js_it
