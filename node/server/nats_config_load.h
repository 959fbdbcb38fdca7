// Reads a nats-server-format config file (nats_conf.h) into Options: the keys meridian-node
// supports are mapped as nats-server reads them; every other key is refused with a sentence
// naming it and its file:line (see README.md for the list).
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "server/options.h"

namespace meridian::server {

// Settings of the program rather than the server (logging, pid file); the caller applies them
// unless command-line flags set them.
struct NatsConfProgram {
  std::optional<bool> debug;
  std::optional<bool> trace;
  std::string log_file;
  std::string pid_file;
};

// Applies the file over `options` (and `program` when given). Throws config::ConfigError
// listing every problem as file:line: key: sentence.
void LoadNatsConfigFile(const std::string& path, Options& options,
                        NatsConfProgram* program = nullptr);
// The same from text; `name` is used in messages, includes resolve relative to `dir`.
void LoadNatsConfigText(std::string_view text, const std::string& name, Options& options,
                        NatsConfProgram* program = nullptr, const std::string& dir = ".");

// True when `path` names a TOML file (extension .toml): meridian-node's own format; anything
// else is read as nats-server's format.
bool IsTomlConfigPath(std::string_view path);

// Reads `path` in the format IsTomlConfigPath chooses (LoadConfigFile or LoadNatsConfigFile).
void LoadConfigFileOfEitherFormat(const std::string& path, Options& options,
                                  NatsConfProgram* program = nullptr);

}  // namespace meridian::server
