// Reads a meridian-node TOML config file into Options (see README.md for the keys).
#pragma once
#include <string>

#include "server/options.h"

namespace meridian::server {

// Applies the file's settings over `options`. Throws config::ConfigError listing every
// problem as file:line:key (unknown keys included) when the file is not acceptable.
void LoadConfigFile(const std::string& path, Options& options);
// The same from text (`name` is used in messages); for tests.
void LoadConfigText(const std::string& text, const std::string& name, Options& options);

}  // namespace meridian::server
