// Plan for one stream: what exists (its config from $JS.API.STREAM.INFO) against what the
// topology wants, field by field, and the config to send when it differs.
//
// Only the fields the coordinator owns (ManagedFields) are compared; the rest of an existing
// config (duplicate_window, description, ...) is kept as the server has it. Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "topology/desired.h"

namespace meridian::topology {

enum class Action : std::uint8_t {
  kNone,      // exists as wanted
  kCreate,    // missing: STREAM.CREATE
  kUpdate,    // differs in fields that can change: STREAM.UPDATE
  kRecreate,  // differs in a field that cannot change (storage, mirror): delete and create,
              // only with --allow-delete (its messages are lost from this stream)
  kDelete,    // belongs to a virtual stream of the file but is no longer wanted
  kSkip,      // its region is unreachable, or it cannot be built there (see note)
};
const char* ActionName(Action a);

struct FieldChange {
  std::string field;
  nlohmann::json from;  // null when absent
  nlohmann::json to;
};

struct StreamPlan {
  DesiredStream desired;  // for kDelete: name, region, virtual_stream and role only
  Action action = Action::kNone;
  std::vector<FieldChange> changes;
  std::string note;     // why skipped, what recreate loses, ...
  nlohmann::json send;  // the full config for CREATE/UPDATE (existing overlaid with desired)
};

// `existing`: the "config" object of STREAM.INFO, or null when the stream does not exist.
StreamPlan DiffStream(const DesiredStream& desired, const nlohmann::json& existing);

// Apply order: create/update/recreate by phase (write streams, then ordering/stretched
// streams, then read streams, so a source never points at a stream apply has yet to make);
// deletions last, read streams before the write streams they source.
std::vector<const StreamPlan*> ApplyOrder(const std::vector<StreamPlan>& plans);

}  // namespace meridian::topology
