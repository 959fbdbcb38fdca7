// context add / ls / select / rm.
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/cli.h"
#include "cli/context.h"
#include "cli/table.h"
#include "natsclient/client.h"

namespace meridian::cli {

namespace {

std::filesystem::path PathOf(const Invocation& inv) {
  auto f = inv.args.Get("context-file");
  return f ? std::filesystem::path(*f) : DefaultContextPath();
}

ContextFile LoadOrThrow(const std::filesystem::path& p) {
  auto f = ContextFile::Load(p);
  if (!f.ok()) throw CliError(f.message());
  return std::move(f.value());
}

int Add(Invocation& inv) {
  const std::string& name = inv.Operand(0, "the context name");
  auto server = inv.args.Get("server");
  if (!server) throw UsageError("a context needs --server URLS");
  auto path = PathOf(inv);
  ContextFile file = LoadOrThrow(path);
  Context c;
  c.name = name;
  c.servers = natsclient::SplitServerList(*server);
  c.user = inv.args.Get("user").value_or("");
  c.password = inv.args.Get("password").value_or("");
  c.token = inv.args.Get("token").value_or("");
  c.tls_cert = inv.args.Get("tlscert").value_or("");
  c.tls_key = inv.args.Get("tlskey").value_or("");
  c.tls_ca = inv.args.Get("tlsca").value_or("");
  c.description = inv.args.Get("description").value_or("");
  bool existed = file.contexts.count(name) > 0;
  file.contexts[name] = c;
  if (inv.args.Has("select") || file.selected.empty()) file.selected = name;
  auto s = file.Save(path);
  if (!s.ok()) throw CliError(s.message());
  inv.out << (existed ? "Updated" : "Added") << " context \"" << name << "\" in " << path.string()
          << (file.selected == name ? " (selected)" : "") << "\n";
  return 0;
}

int Ls(Invocation& inv) {
  ContextFile file = LoadOrThrow(PathOf(inv));
  if (inv.json()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [n, c] : file.contexts) {
      out.push_back({{"name", n},
                     {"servers", c.servers},
                     {"user", c.user},
                     {"description", c.description},
                     {"selected", n == file.selected}});
    }
    inv.out << out.dump(2) << "\n";
    return 0;
  }
  if (file.contexts.empty()) {
    inv.out << "No contexts defined: add one with `meridian context add <name> --server URLS`\n";
    return 0;
  }
  Table t("Contexts");
  t.SetHeader({"Name", "Servers", "User", "Description"});
  for (const auto& [n, c] : file.contexts) {
    std::string servers;
    for (const auto& s : c.servers) servers += (servers.empty() ? "" : ",") + s;
    t.AddRow({n + (n == file.selected ? "*" : ""), servers, c.user, c.description});
  }
  inv.out << t.Render();
  return 0;
}

int Select(Invocation& inv) {
  const std::string& name = inv.Operand(0, "the context name");
  auto path = PathOf(inv);
  ContextFile file = LoadOrThrow(path);
  if (!file.contexts.count(name)) {
    throw CliError("there is no context \"" + name + "\" in " + path.string() +
                   ": see `meridian context ls`");
  }
  file.selected = name;
  auto s = file.Save(path);
  if (!s.ok()) throw CliError(s.message());
  inv.out << "Selected context \"" << name << "\"\n";
  return 0;
}

int Rm(Invocation& inv) {
  const std::string& name = inv.Operand(0, "the context name");
  auto path = PathOf(inv);
  ContextFile file = LoadOrThrow(path);
  if (!file.contexts.erase(name)) {
    throw CliError("there is no context \"" + name + "\" in " + path.string());
  }
  if (file.selected == name) file.selected.clear();
  auto s = file.Save(path);
  if (!s.ok()) throw CliError(s.message());
  inv.out << "Removed context \"" << name << "\"\n";
  return 0;
}

}  // namespace

void RegisterContextCommands(CommandRegistry& r) {
  r.Add({{"context", "add"},
         "context add <name> --server URLS [--user U --password P | --token T] [--select]",
         "save connection settings under a name",
         "    Saves servers, credentials and TLS files as context <name> in the contexts file.\n"
         "    The first context added, or one added with --select, becomes the selected one.\n",
         "      --select           make it the selected context\n"
         "      --description D    a note shown by `context ls`\n",
         Add});
  r.Add({{"context", "ls"},
         "context ls [--json]",
         "list the contexts (selected marked *)",
         "",
         "      --json             print JSON\n",
         Ls});
  r.Add(
      {{"context", "select"}, "context select <name>", "use a context by default", "", "", Select});
  r.Add({{"context", "rm"}, "context rm <name>", "delete a context", "", "", Rm});
}

}  // namespace meridian::cli
