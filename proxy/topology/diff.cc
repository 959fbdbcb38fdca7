#include "topology/diff.h"

#include <algorithm>

namespace meridian::topology {
namespace {

using nlohmann::json;

json DefaultOf(const std::string& field) {
  if (field == "subjects" || field == "sources") return json::array();
  if (field == "max_bytes" || field == "max_msgs" || field == "max_msgs_per_subject") return -1;
  if (field == "max_age") return 0;
  if (field == "allow_direct" || field == "mirror_direct") return false;
  if (field == "num_replicas") return 1;
  if (field == "retention") return "limits";
  if (field == "discard") return "old";
  if (field == "storage") return "file";
  return nullptr;
}

// A source as compared: name, filter and transforms only (servers add defaults and
// external/opt_start fields we never set).
json NormalizedSource(const json& s) {
  json n{{"name", s.value("name", std::string())}};
  const std::string filter = s.value("filter_subject", std::string());
  if (!filter.empty()) n["filter_subject"] = filter;
  if (s.contains("subject_transforms") && s["subject_transforms"].is_array() &&
      !s["subject_transforms"].empty()) {
    json t = json::array();
    for (const json& x : s["subject_transforms"]) {
      t.push_back(
          {{"src", x.value("src", std::string())}, {"dest", x.value("dest", std::string())}});
    }
    n["subject_transforms"] = t;
  }
  return n;
}

json Normalized(const std::string& field, const json& config) {
  json v = config.contains(field) && !config[field].is_null() ? config[field] : DefaultOf(field);
  if (field == "placement") {
    const std::string cluster = v.is_object() ? v.value("cluster", std::string()) : "";
    return cluster.empty() ? json(nullptr) : json{{"cluster", cluster}};
  }
  if (field == "mirror") {
    return v.is_object() ? json{{"name", v.value("name", std::string())}} : json(nullptr);
  }
  if (field == "sources") {
    json out = json::array();
    if (v.is_array()) {
      for (const json& s : v) out.push_back(NormalizedSource(s));
    }
    std::sort(out.begin(), out.end(),
              [](const json& a, const json& b) { return a["name"] < b["name"]; });
    return out;
  }
  return v;
}

bool Immutable(const std::string& field) {
  return field == "storage" || field == "mirror";
}

}  // namespace

const char* ActionName(Action a) {
  switch (a) {
    case Action::kNone:
      return "unchanged";
    case Action::kCreate:
      return "create";
    case Action::kUpdate:
      return "update";
    case Action::kRecreate:
      return "recreate";
    case Action::kDelete:
      return "delete";
    case Action::kSkip:
      return "skip";
  }
  return "unchanged";
}

StreamPlan DiffStream(const DesiredStream& desired, const json& existing) {
  StreamPlan p;
  p.desired = desired;
  if (!desired.problem.empty()) {
    p.action = Action::kSkip;
    p.note = desired.problem;
    return p;
  }
  if (existing.is_null()) {
    p.action = Action::kCreate;
    p.send = desired.config;
    return p;
  }
  bool immutable = false;
  for (const std::string& field : ManagedFields()) {
    if (!desired.config.contains(field) && !existing.contains(field)) continue;
    json want =
        desired.config.contains(field) ? Normalized(field, desired.config) : DefaultOf(field);
    json have = Normalized(field, existing);
    if (want == have) continue;
    p.changes.push_back({field, have, want});
    if (Immutable(field)) immutable = true;
  }
  if (p.changes.empty()) return p;
  p.send = existing;
  for (const std::string& field : ManagedFields()) {
    if (desired.config.contains(field)) {
      p.send[field] = desired.config[field];
    } else if (field == "sources" || field == "subjects") {
      p.send.erase(field);
    }
  }
  if (immutable) {
    p.action = Action::kRecreate;
    p.send = desired.config;
    p.note =
        "storage or mirror cannot change in place: the stream must be deleted and created "
        "again (its messages are lost from it); apply does that only with --allow-delete";
  } else {
    p.action = Action::kUpdate;
  }
  return p;
}

std::vector<const StreamPlan*> ApplyOrder(const std::vector<StreamPlan>& plans) {
  std::vector<const StreamPlan*> out;
  for (int phase = 0; phase <= 2; ++phase) {
    for (const StreamPlan& p : plans) {
      if (p.action == Action::kDelete || p.action == Action::kNone || p.action == Action::kSkip) {
        continue;
      }
      if (p.desired.phase == phase) out.push_back(&p);
    }
  }
  for (int phase = 2; phase >= 0; --phase) {
    for (const StreamPlan& p : plans) {
      if (p.action == Action::kDelete && p.desired.phase == phase) out.push_back(&p);
    }
  }
  return out;
}

}  // namespace meridian::topology
