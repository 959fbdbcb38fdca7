#include "cli/context.h"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace meridian::cli {

std::filesystem::path DefaultContextPath() {
  if (const char* f = std::getenv("MERIDIAN_CONTEXT_FILE"); f && *f) return f;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) {
    return std::filesystem::path(x) / "meridian" / "contexts.toml";
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home && *home ? home : ".") / ".config" / "meridian" /
         "contexts.toml";
}

net::Result<ContextFile> ContextFile::Load(const std::filesystem::path& path) {
  ContextFile out;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return out;
  toml::table root;
  try {
    root = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << path.string() << ":" << e.source().begin.line << ": " << e.description()
        << " (fix the file or remove it)";
    return net::Status::Error(msg.str());
  }
  out.selected = root["selected"].value_or(std::string());
  if (auto* ctxs = root["contexts"].as_table()) {
    for (auto& [key, node] : *ctxs) {
      auto* t = node.as_table();
      if (!t) {
        return net::Status::Error(path.string() + ": contexts." + std::string(key.str()) +
                                  " must be a table");
      }
      Context c;
      c.name = std::string(key.str());
      if (auto* arr = (*t)["servers"].as_array()) {
        for (auto& s : *arr) {
          if (auto v = s.value<std::string>()) c.servers.push_back(*v);
        }
      } else if (auto v = (*t)["servers"].value<std::string>()) {
        c.servers.push_back(*v);
      }
      c.user = (*t)["user"].value_or(std::string());
      c.password = (*t)["password"].value_or(std::string());
      c.token = (*t)["token"].value_or(std::string());
      c.tls_cert = (*t)["tls_cert"].value_or(std::string());
      c.tls_key = (*t)["tls_key"].value_or(std::string());
      c.tls_ca = (*t)["tls_ca"].value_or(std::string());
      c.description = (*t)["description"].value_or(std::string());
      out.contexts[c.name] = std::move(c);
    }
  }
  return out;
}

std::string ContextFile::ToToml() const {
  toml::table root;
  if (!selected.empty()) root.insert("selected", selected);
  toml::table ctxs;
  for (const auto& [name, c] : contexts) {
    toml::table t;
    toml::array servers;
    for (const auto& s : c.servers) servers.push_back(s);
    t.insert("servers", servers);
    auto put = [&](const char* k, const std::string& v) {
      if (!v.empty()) t.insert(k, v);
    };
    put("description", c.description);
    put("user", c.user);
    put("password", c.password);
    put("token", c.token);
    put("tls_cert", c.tls_cert);
    put("tls_key", c.tls_key);
    put("tls_ca", c.tls_ca);
    ctxs.insert(name, t);
  }
  root.insert("contexts", ctxs);
  std::ostringstream os;
  os << root << "\n";
  return os.str();
}

net::Status ContextFile::Save(const std::filesystem::path& path) const {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  std::ofstream f(path, std::ios::trunc);
  if (!f) {
    return net::Status::Error("cannot write " + path.string() +
                              ": check that its directory is writable");
  }
  f << ToToml();
  f.close();
  ::chmod(path.c_str(), 0600);
  return net::Status::Ok();
}

}  // namespace meridian::cli
