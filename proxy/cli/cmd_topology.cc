// topology plan / apply / status / export / trim: the coordinator (proxy/topology) behind the
// command line. Exit statuses: 0 done (plan: nothing to change), 1 failed, 2 wrong command
// line, 3 plan: changes pending or streams that could not be checked / apply, trim: a region
// was unreachable and skipped.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/cli.h"
#include "cli/table.h"
#include "config/reader.h"
#include "topology/coordinator.h"
#include "topology/exporter.h"
#include "topology/file.h"

namespace meridian::cli {

using nlohmann::json;
using topology::Action;

namespace {

constexpr int kPending = 3;

topology::Topology LoadFile(const Invocation& inv) {
  const std::string path = inv.args.Get("file").value_or("conf/topology.toml");
  try {
    return topology::LoadTopologyFile(path);
  } catch (const config::ConfigError& e) {
    throw CliError(std::string("the topology file has problems:\n") + e.what());
  }
}

topology::Coordinator::Options CoordinatorOptions(const Invocation& inv) {
  topology::Coordinator::Options o;
  if (auto t = inv.args.Get("timeout")) {
    o.request_timeout = ParseDuration(*t);
    o.connect_timeout = o.request_timeout;
    o.change_timeout = std::max(o.change_timeout, o.request_timeout);
  }
  return o;
}

std::string Short(const json& v) {
  std::string s = v.is_null() ? "(none)" : v.dump();
  return s.size() > 160 ? s.substr(0, 157) + "..." : s;
}

const char* Sign(Action a) {
  switch (a) {
    case Action::kCreate:
      return "+";
    case Action::kUpdate:
      return "~";
    case Action::kRecreate:
      return "-/+";
    case Action::kDelete:
      return "-";
    case Action::kSkip:
      return "!";
    case Action::kNone:
      return " ";
  }
  return " ";
}

void PrintRegions(const std::vector<topology::RegionState>& regions, std::ostream& out) {
  for (const auto& r : regions) {
    if (r.reachable) {
      out << "region " << r.name << ": " << r.kind.Describe() << " (" << r.server_name << ")\n";
    } else {
      out << "region " << r.name << ": UNREACHABLE, skipped: " << r.error << "\n";
    }
  }
}

void PrintPlan(const topology::PlanResult& plan, std::ostream& out) {
  PrintRegions(plan.regions, out);
  out << "\n";
  for (const auto& p : plan.streams) {
    if (p.action == Action::kNone) continue;
    out << Sign(p.action) << " " << topology::ActionName(p.action) << " " << p.desired.name << "  ("
        << topology::RoleName(p.desired.role) << " stream of " << p.desired.virtual_stream
        << ", via region " << (p.desired.region.empty() ? "-" : p.desired.region) << ")\n";
    if (p.action == Action::kCreate) {
      for (const auto& [k, v] : p.send.items()) {
        if (k == "name") continue;
        out << "      " << k << ": " << Short(v) << "\n";
      }
    }
    for (const auto& c : p.changes) {
      out << "      " << c.field << ": " << Short(c.from) << " -> " << Short(c.to) << "\n";
    }
    if (!p.note.empty()) out << "      note: " << p.note << "\n";
  }
  out << "\nPlan: " << plan.Count(Action::kCreate) << " to create, " << plan.Count(Action::kUpdate)
      << " to update, " << plan.Count(Action::kRecreate) << " to recreate, "
      << plan.Count(Action::kDelete) << " to delete, " << plan.Count(Action::kNone)
      << " unchanged, " << plan.Count(Action::kSkip) << " skipped.\n";
  if (plan.Count(Action::kSkip) > 0) {
    out << "Some streams could not be checked (see ! above): their regions may differ.\n";
  } else if (!plan.HasChanges()) {
    out << "Nothing to change: the regions match the file.\n";
  }
}

bool AnyUnreachable(const std::vector<topology::RegionState>& regions) {
  for (const auto& r : regions) {
    if (!r.reachable) return true;
  }
  return false;
}

int Plan(Invocation& inv) {
  topology::Coordinator c(LoadFile(inv), CoordinatorOptions(inv));
  topology::PlanResult plan = c.Plan();
  if (inv.json()) {
    inv.out << topology::ToJson(plan).dump(2) << "\n";
  } else {
    PrintPlan(plan, inv.out);
  }
  return plan.HasChanges() || plan.Count(Action::kSkip) > 0 ? kPending : 0;
}

bool Confirm(Invocation& inv, const std::string& question) {
  inv.err << question << " Type yes to continue: " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "yes";
}

int Apply(Invocation& inv) {
  topology::Coordinator c(LoadFile(inv), CoordinatorOptions(inv));
  topology::PlanResult plan = c.Plan();
  const bool allow_delete = inv.args.Has("allow-delete");
  const size_t destructive = plan.Count(Action::kDelete) + plan.Count(Action::kRecreate);
  if (!inv.json()) PrintPlan(plan, inv.out);
  if (allow_delete && destructive > 0 && !inv.args.Has("yes")) {
    if (!Confirm(inv, "apply will delete " + std::to_string(destructive) +
                          " stream(s) and every message in them.")) {
      throw CliError("not confirmed: nothing was changed");
    }
  }
  topology::ApplyResult result = c.Apply(plan, allow_delete);
  if (inv.json()) {
    json j = topology::ToJson(result);
    j["plan"] = topology::ToJson(plan);
    inv.out << j.dump(2) << "\n";
  } else {
    inv.out << "\n";
    for (const auto& s : result.steps) {
      inv.out << (s.ok ? "ok     " : "FAILED ") << topology::ActionName(s.action) << " " << s.stream
              << " (region " << s.region << "): " << s.message << "\n";
    }
    for (const auto& s : result.skipped) inv.out << "skipped " << s << "\n";
    if (result.steps.empty()) inv.out << "Nothing was changed.\n";
  }
  if (!result.ok()) throw CliError("some changes failed (see above); run apply again to retry");
  if (AnyUnreachable(plan.regions)) {
    inv.err << "meridian: some regions were unreachable and were left unchanged\n";
    return kPending;
  }
  return 0;
}

std::string LagText(const topology::OriginLag& l) {
  if (!l.error.empty()) return "? (" + l.error.substr(0, 60) + ")";
  if (!l.behind) return "?";
  if (*l.behind == 0) return "0";
  std::string s = WithCommas(*l.behind) + " msgs";
  if (l.age) s += ", " + HumanDuration(l.age->count());
  return s;
}

int Status(Invocation& inv) {
  topology::Coordinator c(LoadFile(inv), CoordinatorOptions(inv));
  std::vector<topology::StreamStatus> status = c.Status();
  if (inv.json()) {
    inv.out << json{{"streams", topology::ToJson(status)}}.dump(2) << "\n";
    return 0;
  }
  for (const auto& s : status) {
    Table t("Virtual stream " + s.name + " (" + topology::ModeName(s.mode) + ")");
    std::vector<std::string> header{"Region", "Write msgs", "Read msgs"};
    if (s.mode == topology::Mode::kEventual) {
      for (const auto& r : s.regions) header.push_back("Lag from " + r.region);
    } else {
      header.push_back("Lag behind source");
    }
    header.push_back("State");
    t.SetHeader(header);
    for (const auto& r : s.regions) {
      std::vector<std::string> row{r.region};
      if (!r.reachable) {
        row.push_back("-");
        row.push_back("-");
        for (size_t i = 3; i + 1 < header.size(); ++i) row.push_back("-");
        row.push_back("UNREACHABLE");
        t.AddRow(row);
        continue;
      }
      row.push_back(r.write_msgs ? WithCommas(*r.write_msgs) : "-");
      row.push_back(r.read_msgs ? WithCommas(*r.read_msgs) : "?");
      for (const auto& l : r.lags) row.push_back(LagText(l));
      while (row.size() + 1 < header.size()) row.push_back("-");
      row.push_back(r.Behind() ? "BEHIND" : "in sync");
      t.AddRow(row);
    }
    inv.out << t.Render();
    for (const auto& w : s.warnings) inv.out << "warning: " << w << "\n";
    inv.out << "\n";
  }
  return 0;
}

int Export(Invocation& inv) {
  std::vector<topology::ExportFile> files = topology::ExportServerSide(LoadFile(inv));
  if (inv.json()) {
    json j = json::object();
    for (const auto& f : files) {
      if (f.name.ends_with(".json")) {
        j["streams"][f.name.substr(0, f.name.size() - 5)] = json::parse(f.text);
      } else {
        j["mappings"] = f.text;
      }
    }
    inv.out << j.dump(2) << "\n";
    return 0;
  }
  auto dir = inv.args.Get("out");
  if (!dir) {
    for (const auto& f : files) inv.out << "# " << f.name << "\n" << f.text << "\n";
    return 0;
  }
  std::error_code ec;
  std::filesystem::create_directories(*dir, ec);
  if (ec) throw CliError("cannot create " + *dir + ": " + ec.message());
  for (const auto& f : files) {
    const auto path = std::filesystem::path(*dir) / f.name;
    std::ofstream o(path);
    o << f.text;
    if (!o) throw CliError("cannot write " + path.string());
    inv.out << "wrote " << path.string() << "\n";
  }
  return 0;
}

int Trim(Invocation& inv) {
  topology::Coordinator c(LoadFile(inv), CoordinatorOptions(inv));
  std::vector<topology::TrimResult> trims = c.Trim(inv.args.Has("dry-run"));
  bool failed = false;
  for (const auto& t : trims) failed = failed || !t.error.empty();
  if (inv.json()) {
    inv.out << json{{"trims", topology::ToJson(trims)}}.dump(2) << "\n";
  } else {
    Table t("Trim");
    t.SetHeader({"Write stream", "Purge below", "Purged", "Why"});
    for (const auto& r : trims) {
      t.AddRow({r.write_stream,
                r.decision.purge_below ? std::to_string(r.decision.purge_below) : "-",
                r.purged ? WithCommas(r.purged_count) : "0",
                r.error.empty() ? r.decision.reason : r.error});
    }
    inv.out << t.Render();
  }
  if (AnyUnreachable(c.regions())) return kPending;
  return failed ? 1 : 0;
}

}  // namespace

void RegisterTopologyCommands(CommandRegistry& r) {
  const char* kFile =
      "      --file F           the topology file (default conf/topology.toml)\n"
      "      --timeout D        per read request and connect (default 3s; changes 15s)\n"
      "      --json             print JSON for scripts\n";
  r.Add({{"topology", "plan"},
         "topology plan [--file F] [--json]",
         "show what apply would change in each region",
         "    Connects to every region of the file with that region's servers and credentials,\n"
         "    reads the streams there ($JS.API.STREAM.INFO) and prints, stream by stream and\n"
         "    field by field, what differs from the file: + create, ~ update, -/+ recreate,\n"
         "    - delete, ! skipped (unreachable region). Exit status 0 when nothing would\n"
         "    change, 3 when something would, 1 on failure.\n",
         kFile,
         Plan});
  r.Add({{"topology", "apply"},
         "topology apply [--file F] [--allow-delete] [--yes] [--json]",
         "make every region match the topology file",
         "    Plans as `topology plan`, then creates and updates streams in an order that never\n"
         "    breaks a running read path: write streams first, then ordering/stretched streams,\n"
         "    then the read streams that source them. Idempotent; concurrent applies converge.\n"
         "    Deletes (streams of the file's virtual streams that it no longer wants) and\n"
         "    recreates (a storage or mirror change) only with --allow-delete, after asking\n"
         "    unless --yes. An unreachable region is left unchanged. Exit status 0 done, 1 a\n"
         "    change failed, 3 some region was unreachable.\n",
         std::string(kFile) + "      --allow-delete     also delete or recreate streams\n"
                              "      --yes              do not ask before deleting\n",
         Apply});
  r.Add({{"topology", "status"},
         "topology status [--file F] [--json]",
         "replication state of every virtual stream",
         "    A table per virtual stream: per region the write and read stream message counts,\n"
         "    and for each origin how far the read stream is behind that origin's write stream\n"
         "    (messages, and the age of the oldest one not yet sourced). Unreachable and lagging\n"
         "    regions are flagged; a warning names backlogs nearing write_max_age.\n",
         kFile,
         Status});
  r.Add({{"topology", "export"},
         "topology export [--file F] [--out DIR] [--json]",
         "server-side stream files and mappings for NATS 2.10+ without sidecars",
         "    Writes one stream JSON per real stream (read streams strip the region token with a\n"
         "    subject transform) and mappings.cfg with the cluster-scoped account mappings of\n"
         "    every JetStream API subject that names a virtual stream (direct get, consumer\n"
         "    create with filter, both ack forms included). Without --out, prints them.\n",
         std::string(kFile) + "      --out DIR          write the files into DIR\n",
         Export});
  r.Add({{"topology", "trim"},
         "topology trim [--file F] [--dry-run] [--json]",
         "purge from write streams what every region has sourced",
         "    For every write stream, finds how far each reader (every read stream, or the\n"
         "    ordering stream) has sourced it, from the Nats-Stream-Source header of the newest\n"
         "    message of that origin in the reader, and purges below the lowest. A reader that\n"
         "    cannot be read (its region cut off) holds the stream back. Exit status 3 when a\n"
         "    region was unreachable, 1 when a purge failed.\n",
         std::string(kFile) + "      --dry-run          decide, purge nothing\n",
         Trim});
}

}  // namespace meridian::cli
