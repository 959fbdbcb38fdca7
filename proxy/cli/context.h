// Contexts: named connection settings, one per region, kept in a TOML file
// (default ~/.config/meridian/contexts.toml; $MERIDIAN_CONTEXT_FILE or --context-file moves it):
//
//   selected = "west"
//   [contexts.west]
//   servers = ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"]
//   user = "app"
//   password = "app"
//   # token = "...", tls_cert = "...", tls_key = "...", tls_ca = "..."
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "net/status.h"

namespace meridian::cli {

struct Context {
  std::string name;
  std::vector<std::string> servers;
  std::string user, password, token;
  std::string tls_cert, tls_key, tls_ca;
  std::string description;
};

struct ContextFile {
  std::string selected;
  std::map<std::string, Context> contexts;

  // A missing file is an empty ContextFile; a malformed one is an error naming the line.
  static net::Result<ContextFile> Load(const std::filesystem::path& path);
  // Writes the file (creating its directory), mode 0600 since it may hold passwords.
  net::Status Save(const std::filesystem::path& path) const;
  std::string ToToml() const;
};

// --context-file, else $MERIDIAN_CONTEXT_FILE, else $XDG_CONFIG_HOME/meridian/contexts.toml,
// else $HOME/.config/meridian/contexts.toml.
std::filesystem::path DefaultContextPath();

}  // namespace meridian::cli
