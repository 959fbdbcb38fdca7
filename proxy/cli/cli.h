// The `meridian` command line: a registry of commands (each a path of words such as
// {"stream", "info"}), global flags, contexts, help, and RunCli() which main() calls.
// New command groups (e.g. `topology ...`) plug in with CommandRegistry::Add.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/args.h"
#include "natsclient/sync_client.h"

namespace meridian::cli {

// Thrown by commands: `what()` is the sentence printed after "meridian: ". Exit status 1.
struct CliError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A wrong command line: printed with a pointer to --help. Exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Invocation {
  const Args& args;
  std::vector<std::string> operands;  // the words after the command path
  std::ostream& out;
  std::ostream& err;

  bool json() const { return args.Has("json"); }
  // The operand at `i`, or a UsageError naming `what` is missing.
  const std::string& Operand(size_t i, const char* what) const;
  // Connection settings from --context / the selected context, overridden by the flags.
  natsclient::Options ConnectOptions() const;
  // Connects or throws CliError with the reason.
  std::unique_ptr<natsclient::SyncClient> Connect() const;
};

struct Command {
  std::vector<std::string> path;  // {"stream", "info"}
  std::string synopsis;           // "stream info <name> [--json]"
  std::string summary;            // one line for the command list
  std::string description;        // paragraphs for `meridian <cmd> --help`
  std::string flags;              // "  --json   print the reply as JSON\n..."
  std::function<int(Invocation&)> run;
};

class CommandRegistry {
 public:
  void Add(Command command);
  // The command whose path is the longest prefix of `words`; *consumed = its length.
  const Command* Find(const std::vector<std::string>& words, size_t* consumed) const;
  // Commands whose path starts with `prefix` (for `meridian stream --help`).
  std::vector<const Command*> Under(const std::vector<std::string>& prefix) const;
  const std::vector<Command>& all() const { return commands_; }

 private:
  std::vector<Command> commands_;
};

void RegisterMessageCommands(CommandRegistry& registry);
void RegisterStreamCommands(CommandRegistry& registry);
void RegisterServerCommands(CommandRegistry& registry);
void RegisterContextCommands(CommandRegistry& registry);
// topology plan/apply/status/export/trim (cmd_topology.cc, on proxy/topology).
void RegisterTopologyCommands(CommandRegistry& registry);
// Every command group above.
CommandRegistry DefaultRegistry();

std::string TopLevelHelp(const CommandRegistry& registry);
std::string CommandHelp(const Command& command);

// Runs `meridian argv...` (argv without the program name); returns the exit status.
int RunCli(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err);
int RunCli(const CommandRegistry& registry, const std::vector<std::string>& argv, std::ostream& out,
           std::ostream& err);

// "5s", "500ms", "2m", "1h", or a plain number of seconds. Throws UsageError.
std::chrono::milliseconds ParseDuration(const std::string& text);
// A non-negative integer flag value. Throws UsageError naming the flag.
uint64_t ParseCount(const std::string& text, const char* flag);

}  // namespace meridian::cli
