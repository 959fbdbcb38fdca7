#include "cli/cli.h"

#include <algorithm>
#include <charconv>
#include <ostream>
#include <sstream>

#include "cli/context.h"

namespace meridian::cli {

const std::string& Invocation::Operand(size_t i, const char* what) const {
  if (i >= operands.size()) {
    throw UsageError(std::string("missing ") + what);
  }
  return operands[i];
}

natsclient::Options Invocation::ConnectOptions() const {
  natsclient::Options o;
  o.servers.clear();
  std::filesystem::path path = args.Get("context-file")
                                   ? std::filesystem::path(*args.Get("context-file"))
                                   : DefaultContextPath();
  auto file = ContextFile::Load(path);
  if (!file.ok()) throw CliError(file.message());
  std::string name = args.Get("context").value_or(file->selected);
  if (!name.empty()) {
    auto it = file->contexts.find(name);
    if (it == file->contexts.end()) {
      if (args.Has("context")) {
        throw CliError("there is no context \"" + name + "\" in " + path.string() +
                       ": see `meridian context ls`");
      }
    } else {
      const Context& c = it->second;
      o.servers = c.servers;
      o.user = c.user;
      o.password = c.password;
      o.token = c.token;
      if (!c.tls_cert.empty() || !c.tls_key.empty() || !c.tls_ca.empty()) {
        net::TlsConfig t;
        t.cert_file = c.tls_cert;
        t.key_file = c.tls_key;
        t.ca_file = c.tls_ca;
        o.tls = t;
      }
    }
  }
  if (auto s = args.Get("server")) o.servers = natsclient::SplitServerList(*s);
  if (auto u = args.Get("user")) o.user = *u;
  if (auto p = args.Get("password")) o.password = *p;
  if (auto t = args.Get("token")) o.token = *t;
  if (args.Has("tlscert") || args.Has("tlskey") || args.Has("tlsca")) {
    net::TlsConfig t = o.tls.value_or(net::TlsConfig{});
    if (auto v = args.Get("tlscert")) t.cert_file = *v;
    if (auto v = args.Get("tlskey")) t.key_file = *v;
    if (auto v = args.Get("tlsca")) t.ca_file = *v;
    o.tls = t;
  }
  if (o.servers.empty()) o.servers = {"nats://127.0.0.1:4222"};
  o.connect_timeout = std::chrono::milliseconds(3000);
  return o;
}

std::unique_ptr<natsclient::SyncClient> Invocation::Connect() const {
  auto c = natsclient::SyncClient::Connect(ConnectOptions());
  if (!c.ok()) throw CliError(c.message());
  return std::move(c.value());
}

void CommandRegistry::Add(Command command) {
  commands_.push_back(std::move(command));
}

const Command* CommandRegistry::Find(const std::vector<std::string>& words,
                                     size_t* consumed) const {
  const Command* best = nullptr;
  for (const auto& c : commands_) {
    if (c.path.size() > words.size()) continue;
    if (!std::equal(c.path.begin(), c.path.end(), words.begin())) continue;
    if (!best || c.path.size() > best->path.size()) best = &c;
  }
  if (best) *consumed = best->path.size();
  return best;
}

std::vector<const Command*> CommandRegistry::Under(const std::vector<std::string>& prefix) const {
  std::vector<const Command*> out;
  for (const auto& c : commands_) {
    if (c.path.size() >= prefix.size() &&
        std::equal(prefix.begin(), prefix.end(), c.path.begin())) {
      out.push_back(&c);
    }
  }
  return out;
}

CommandRegistry DefaultRegistry() {
  CommandRegistry r;
  RegisterMessageCommands(r);
  RegisterStreamCommands(r);
  RegisterServerCommands(r);
  RegisterContextCommands(r);
  RegisterTopologyCommands(r);
  return r;
}

namespace {
const char kGlobalFlags[] =
    "  -s, --server URLS      comma-separated server URLs (nats://host:port, tls://host:port)\n"
    "      --user USER        user name\n"
    "      --password PASS    password\n"
    "      --token TOKEN      authentication token\n"
    "      --tlscert FILE     client certificate (PEM); with --tlskey\n"
    "      --tlskey FILE      client key (PEM)\n"
    "      --tlsca FILE       CA certificates to verify the server with (PEM)\n"
    "      --context NAME     use this context instead of the selected one\n"
    "      --context-file F   contexts file (default ~/.config/meridian/contexts.toml,\n"
    "                         or $MERIDIAN_CONTEXT_FILE)\n"
    "  -h, --help             this text; `meridian <command> --help` for one command\n";
// True when `help_text` documents `--flag` (followed by a non-name character).
bool MentionsFlag(const std::string& help_text, const std::string& flag) {
  std::string needle = "--" + flag;
  for (size_t p = help_text.find(needle); p != std::string::npos;
       p = help_text.find(needle, p + 1)) {
    size_t end = p + needle.size();
    if (end == help_text.size()) return true;
    char c = help_text[end];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return true;
  }
  return false;
}
}  // namespace

std::string TopLevelHelp(const CommandRegistry& registry) {
  std::ostringstream o;
  o << "NAME\n    meridian - operate Meridian's multi-region NATS JetStream deployments\n\n"
    << "SYNOPSIS\n    meridian [global flags] <command> [arguments] [flags]\n\n"
    << "DESCRIPTION\n"
    << "    Publishes, subscribes and sends requests; reports on streams and on the JetStream\n"
    << "    meta group; and performs the operator actions of a disaster drill (meta leader\n"
    << "    step-down, removing dead peers, moving and rescaling streams). It talks to stock\n"
    << "    nats-server through the $JS.API and $SYS subjects, so it works with any NATS\n"
    << "    deployment. Server reports and raft actions need a user of the system account.\n\n"
    << "COMMANDS\n";
  for (const auto& c : registry.all()) {
    o << "    " << c.synopsis << "\n        " << c.summary << "\n";
  }
  o << "\nGLOBAL FLAGS\n"
    << kGlobalFlags << "      --json             machine-readable output "
    << "(every reporting command)\n\n"
    << "CONTEXTS\n"
    << "    A context holds the servers and credentials of one region. Flags override it.\n"
    << "    `meridian context add west -s nats://w1:4222,nats://w2:4222 --user app --password "
       "app --select`\n\n"
    << "EXIT STATUS\n    0 on success, 1 when the command failed (the reason is printed), 2 for "
       "a wrong command line.\n";
  return o.str();
}

std::string CommandHelp(const Command& c) {
  std::ostringstream o;
  std::string path;
  for (const auto& w : c.path) path += (path.empty() ? "" : " ") + w;
  o << "NAME\n    meridian " << path << " - " << c.summary << "\n\n"
    << "SYNOPSIS\n    meridian " << c.synopsis << "\n\n";
  if (!c.description.empty()) o << "DESCRIPTION\n" << c.description << "\n";
  if (!c.flags.empty()) o << "FLAGS\n" << c.flags << "\n";
  o << "GLOBAL FLAGS\n" << kGlobalFlags;
  return o.str();
}

std::chrono::milliseconds ParseDuration(const std::string& text) {
  double v = 0;
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  if (i == 0) throw UsageError("\"" + text + "\" is not a duration: write e.g. 5s, 500ms or 2m");
  try {
    v = std::stod(text.substr(0, i));
  } catch (...) {
    throw UsageError("\"" + text + "\" is not a duration: write e.g. 5s, 500ms or 2m");
  }
  std::string unit = text.substr(i);
  double ms;
  if (unit.empty() || unit == "s") {
    ms = v * 1000;
  } else if (unit == "ms") {
    ms = v;
  } else if (unit == "m") {
    ms = v * 60000;
  } else if (unit == "h") {
    ms = v * 3600000;
  } else {
    throw UsageError("\"" + text + "\" is not a duration: write e.g. 5s, 500ms or 2m");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

uint64_t ParseCount(const std::string& text, const char* flag) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw UsageError(std::string("--") + flag + " wants a whole number, not \"" + text + "\"");
  }
  return v;
}

int RunCli(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  return RunCli(DefaultRegistry(), argv, out, err);
}

int RunCli(const CommandRegistry& registry, const std::vector<std::string>& argv, std::ostream& out,
           std::ostream& err) {
  Args args = Args::Parse(argv);
  if (!args.error().empty()) {
    err << "meridian: " << args.error() << " (see meridian --help)\n";
    return 2;
  }
  bool help = args.Has("help");
  if (args.words().empty() || (args.words().size() == 1 && args.words()[0] == "help")) {
    if (!help && args.words().empty()) {
      err << TopLevelHelp(registry);
      return 2;
    }
    out << TopLevelHelp(registry);
    return 0;
  }
  size_t consumed = 0;
  const Command* cmd = registry.Find(args.words(), &consumed);
  if (!cmd) {
    auto group = registry.Under({args.words()[0]});
    if (!group.empty()) {
      std::ostream& o = help ? out : err;
      o << "meridian " << args.words()[0] << " commands:\n";
      for (const Command* c : group) o << "    " << c->synopsis << "  " << c->summary << "\n";
      if (help) return 0;
      if (args.words().size() > 1) {
        err << "meridian: unknown command \"" << args.words()[0] << " " << args.words()[1]
            << "\"\n";
      }
      return 2;
    }
    err << "meridian: unknown command \"" << args.words()[0]
        << "\": see meridian --help for the list\n";
    return 2;
  }
  if (help) {
    out << CommandHelp(*cmd);
    return 0;
  }
  for (const auto& flag : args.FlagNames()) {
    if (flag == "json" || MentionsFlag(kGlobalFlags, flag) || MentionsFlag(cmd->flags, flag)) {
      continue;
    }
    std::string path;
    for (const auto& w : cmd->path) path += (path.empty() ? "" : " ") + w;
    err << "meridian: unknown flag --" << flag << " for `" << path << "`: see meridian " << path
        << " --help\n";
    return 2;
  }
  Invocation inv{args, {args.words().begin() + consumed, args.words().end()}, out, err};
  try {
    return cmd->run(inv);
  } catch (const UsageError& e) {
    err << "meridian: " << e.what() << "\nusage: meridian " << cmd->synopsis << "  (see --help)\n";
    return 2;
  } catch (const CliError& e) {
    err << "meridian: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    err << "meridian: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace meridian::cli
