// `meridian topology export`: the server-side equivalent of a topology for NATS 2.10+
// operators who run without sidecars, in the seeds' form: one stream JSON per real stream
// (read streams strip the origin token with a subject transform) and a `mappings` block of
// cluster-scoped account mappings for every JetStream API subject that names the stream.
//
// Beyond the seed's list it maps what the seed misses: `$JS.API.DIRECT.GET.<v>` (the seed
// names a subject no client uses), the last-by-subject direct get, consumer create with a
// filter subject (`$JS.API.CONSUMER.CREATE.<v>.<name>.<filter>`), the other consumer
// requests, and acks in both forms (`$JS.ACK.<v>.…` and `$JS.ACK.<domain>.<hash>.<v>.…`).
// Pure.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "topology/spec.h"

namespace meridian::topology {

struct ExportFile {
  std::string name;  // "foo-write-west.json", "mappings.cfg"
  std::string text;
};

// Every file, stream JSON first (file order of streams and regions), mappings.cfg last.
std::vector<ExportFile> ExportServerSide(const Topology& topology);

// The `mappings = { ... }` block (seed's mappings.cfg syntax) for every eventual stream.
// Ordered and immediate streams get stream files only: clients name their streams directly.
std::string MappingsText(const Topology& topology);

}  // namespace meridian::topology
