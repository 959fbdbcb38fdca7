#include "server/nats_conf.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/reader.h"

namespace meridian::server {
namespace {

constexpr int kMaxIncludeDepth = 10;
constexpr int kMaxNesting = 64;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Size suffixes as nats-server reads them after an integer: K = 1000, KB/KiB = 1024, ...
bool SizeMultiplier(std::string_view suffix, int64_t& mult) {
  static const struct {
    const char* name;
    int64_t mult;
  } kUnits[] = {
      {"k", 1000},
      {"kb", 1024},
      {"ki", 1024},
      {"kib", 1024},
      {"m", 1000 * 1000},
      {"mb", 1024 * 1024},
      {"mi", 1024 * 1024},
      {"mib", 1024 * 1024},
      {"g", 1000 * 1000 * 1000},
      {"gb", 1024 * 1024 * 1024},
      {"gi", 1024 * 1024 * 1024},
      {"gib", 1024 * 1024 * 1024},
      {"t", 1000LL * 1000 * 1000 * 1000},
      {"tb", 1024LL * 1024 * 1024 * 1024},
      {"ti", 1024LL * 1024 * 1024 * 1024},
      {"tib", 1024LL * 1024 * 1024 * 1024},
  };
  std::string s = Lower(suffix);
  for (const auto& u : kUnits) {
    if (s == u.name) {
      mult = u.mult;
      return true;
    }
  }
  return false;
}

// A bare (unquoted) token: boolean, integer (with size suffix), float, or string.
void ClassifyBare(std::string_view tok, NatsConfValue& v) {
  static const char* kTrue[] = {"true", "yes", "on"};
  static const char* kFalse[] = {"false", "no", "off"};
  for (const char* t : kTrue) {
    if (EqualsIgnoreCase(tok, t)) {
      v.type = NatsConfValue::Type::kBool;
      v.boolean = true;
      return;
    }
  }
  for (const char* t : kFalse) {
    if (EqualsIgnoreCase(tok, t)) {
      v.type = NatsConfValue::Type::kBool;
      v.boolean = false;
      return;
    }
  }
  size_t i = 0;
  if (i < tok.size() && (tok[i] == '-' || tok[i] == '+')) ++i;
  size_t digits_start = i;
  while (i < tok.size() && std::isdigit(static_cast<unsigned char>(tok[i]))) ++i;
  bool has_digits = i > digits_start;
  if (has_digits) {
    std::string number(tok.substr(0, i));
    if (i == tok.size() || SizeMultiplier(tok.substr(i), v.integer)) {
      int64_t mult = i == tok.size() ? 1 : v.integer;
      errno = 0;
      long long n = std::strtoll(number.c_str(), nullptr, 10);
      if (errno == 0 && (mult == 1 || std::llabs(n) <= INT64_MAX / mult)) {
        v.type = NatsConfValue::Type::kInteger;
        v.integer = n * mult;
        return;
      }
    }
    if (i < tok.size() && tok[i] == '.') {
      size_t j = i + 1;
      while (j < tok.size() && std::isdigit(static_cast<unsigned char>(tok[j]))) ++j;
      if (j == tok.size() && j > i + 1) {
        v.type = NatsConfValue::Type::kFloat;
        v.real = std::strtod(std::string(tok).c_str(), nullptr);
        return;
      }
    }
  }
  v.type = NatsConfValue::Type::kString;
  v.string = std::string(tok);
}

class Parser {
 public:
  Parser(std::string_view text, std::string file, std::filesystem::path dir,
         std::vector<NatsConfValue*>& scopes, int depth)
      : text_(text), file_(std::move(file)), dir_(std::move(dir)), scopes_(scopes), depth_(depth) {}

  // Parses key/value pairs into `map` until end of input.
  void ParseTop(NatsConfValue& map) { ParseBody(map, '\0'); }

 private:
  [[noreturn]] void Fail(const std::string& message, int line = 0) {
    config::ConfigIssue issue;
    issue.file = file_;
    issue.line = line > 0 ? line : line_;
    issue.message = message;
    throw config::ConfigError({issue});
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  void Advance() {
    if (text_[pos_] == '\n') ++line_;
    ++pos_;
  }
  bool AtComment() const { return Peek() == '#' || (Peek() == '/' && Peek(1) == '/'); }
  void SkipComment() {
    while (!AtEnd() && Peek() != '\n') Advance();
  }
  // Spaces and tabs only (a newline ends a value).
  void SkipBlanks() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\r')) Advance();
  }
  // Whitespace, newlines, comments and the separators `sep` (",;" in maps, "," in arrays).
  void SkipSpace(std::string_view sep) {
    while (!AtEnd()) {
      char c = Peek();
      if (std::isspace(static_cast<unsigned char>(c)) || sep.find(c) != std::string_view::npos) {
        Advance();
      } else if (AtComment()) {
        SkipComment();
      } else {
        break;
      }
    }
  }

  static bool EndsBareKey(char c) {
    return std::isspace(static_cast<unsigned char>(c)) ||
           std::string_view(":={}[],;#\"'").find(c) != std::string_view::npos;
  }
  static bool EndsBareValue(char c) {
    return std::isspace(static_cast<unsigned char>(c)) ||
           std::string_view(",;}]#").find(c) != std::string_view::npos;
  }

  void ParseBody(NatsConfValue& map, char close) {
    map.type = NatsConfValue::Type::kMap;
    scopes_.push_back(&map);
    while (true) {
      SkipSpace(",;");
      if (AtEnd()) {
        if (close != '\0') Fail(std::string("a block is not closed: '") + close + "' is missing");
        break;
      }
      if (Peek() == close && close != '\0') {
        Advance();
        break;
      }
      if (Peek() == '}' || Peek() == ']') {
        Fail(std::string("unexpected '") + Peek() + "'; no block or array is open here");
      }
      int key_line = line_;
      std::string key;
      bool quoted_key = false;
      if (Peek() == '"' || Peek() == '\'') {
        key = ParseQuoted();
        quoted_key = true;
      } else {
        size_t start = pos_;
        while (!AtEnd() && !EndsBareKey(Peek())) Advance();
        key = std::string(text_.substr(start, pos_ - start));
        if (key.empty()) Fail(std::string("expected a key, found '") + Peek() + "'");
      }
      SkipBlanks();
      bool separator = false;
      if (Peek() == ':' || Peek() == '=') {
        Advance();
        separator = true;
        SkipBlanks();
      }
      if (!quoted_key && !separator && key == "include") {
        Include(map, key_line);
        continue;
      }
      if (AtEnd() || Peek() == '\n' || AtComment()) {
        Fail("key \"" + key + "\" has no value", key_line);
      }
      NatsConfEntry entry;
      entry.key = std::move(key);
      entry.file = file_;
      entry.line = key_line;
      ParseValue(entry.value);
      map.map.push_back(std::move(entry));
    }
    scopes_.pop_back();
  }

  void Include(NatsConfValue& map, int line) {
    std::string name;
    if (Peek() == '"' || Peek() == '\'') {
      name = ParseQuoted();
    } else {
      size_t start = pos_;
      while (!AtEnd() && !EndsBareValue(Peek())) Advance();
      name = std::string(text_.substr(start, pos_ - start));
    }
    if (name.empty()) Fail("include needs a file name", line);
    if (depth_ >= kMaxIncludeDepth) {
      Fail("include \"" + name + "\" nests more than " + std::to_string(kMaxIncludeDepth) +
               " levels deep; is a file including itself?",
           line);
    }
    std::filesystem::path path = dir_ / name;
    std::ifstream in(path, std::ios::binary);
    if (!in) Fail("cannot read included file \"" + path.string() + "\"", line);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    // As nats-server: the included file is parsed on its own (it sees only its own variables
    // and the environment); its pairs then join the including block.
    std::vector<NatsConfValue*> own_scopes;
    NatsConfValue included;
    Parser child(text, path.string(), path.parent_path(), own_scopes, depth_ + 1);
    child.ParseTop(included);
    for (auto& e : included.map) map.map.push_back(std::move(e));
  }

  std::string ParseQuoted() {
    char quote = Peek();
    int start_line = line_;
    Advance();
    std::string out;
    while (true) {
      if (AtEnd())
        Fail(std::string("a quoted string is not closed (missing ") + quote + ")", start_line);
      char c = Peek();
      if (c == quote) {
        Advance();
        break;
      }
      if (c == '\n') Fail("a quoted string runs past the end of its line", start_line);
      if (c == '\\' && quote == '"') {
        Advance();
        char e = Peek();
        switch (e) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case 'r':
            out += '\r';
            break;
          case '"':
            out += '"';
            break;
          case '\\':
            out += '\\';
            break;
          default:
            Fail(std::string("unknown escape \\") + e + " in a quoted string");
        }
        Advance();
        continue;
      }
      out += c;
      Advance();
    }
    return out;
  }

  void ParseValue(NatsConfValue& v) {
    v.file = file_;
    v.line = line_;
    char c = Peek();
    if ((c == '{' || c == '[') && ++nesting_ > kMaxNesting) {
      Fail("blocks and arrays nest more than " + std::to_string(kMaxNesting) + " levels deep");
    }
    if (c == '{') {
      Advance();
      ParseBody(v, '}');
      --nesting_;
    } else if (c == '[') {
      Advance();
      v.type = NatsConfValue::Type::kArray;
      while (true) {
        SkipSpace(",");
        if (AtEnd()) Fail("an array is not closed: ']' is missing", v.line);
        if (Peek() == ']') {
          Advance();
          break;
        }
        NatsConfValue item;
        ParseValue(item);
        v.array.push_back(std::move(item));
      }
      --nesting_;
    } else if (c == '"' || c == '\'') {
      v.type = NatsConfValue::Type::kString;
      v.string = ParseQuoted();
    } else if (c == '$') {
      Advance();
      size_t start = pos_;
      while (!AtEnd() && (std::isalnum(static_cast<unsigned char>(Peek())) || Peek() == '_')) {
        Advance();
      }
      std::string name(text_.substr(start, pos_ - start));
      if (name.empty()) Fail("'$' must be followed by a variable name");
      Resolve(name, v);
    } else {
      size_t start = pos_;
      while (!AtEnd() && !EndsBareValue(Peek())) Advance();
      if (pos_ == start) {
        Fail(AtEnd() ? std::string("a value is missing at the end of the file")
                     : std::string("expected a value, found '") + Peek() + "'");
      }
      ClassifyBare(text_.substr(start, pos_ - start), v);
    }
  }

  // A variable: the nearest earlier key of that name in this or an enclosing block, else the
  // environment variable (read as a bare value).
  void Resolve(const std::string& name, NatsConfValue& v) {
    int line = v.line;
    std::string file = v.file;
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      for (auto e = (*it)->map.rbegin(); e != (*it)->map.rend(); ++e) {
        if (e->key == name) {
          e->used_as_variable = true;
          v = e->value;
          v.file = file;
          v.line = line;
          return;
        }
      }
    }
    if (const char* env = std::getenv(name.c_str())) {
      ClassifyBare(env, v);
      return;
    }
    Fail("variable $" + name +
             " is not defined: define it earlier in the file (NAME: value) or in the "
             "environment",
         line);
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  std::string file_;
  std::filesystem::path dir_;
  std::vector<NatsConfValue*>& scopes_;
  int depth_;
  int nesting_ = 0;
};

}  // namespace

const NatsConfEntry* NatsConfValue::Find(std::string_view key) const {
  const NatsConfEntry* found = nullptr;
  for (const auto& e : map) {
    if (EqualsIgnoreCase(e.key, key)) found = &e;
  }
  return found;
}

const char* NatsConfValue::TypeName() const {
  switch (type) {
    case Type::kString:
      return "a string";
    case Type::kInteger:
      return "an integer";
    case Type::kFloat:
      return "a number";
    case Type::kBool:
      return "a boolean";
    case Type::kMap:
      return "a block {...}";
    case Type::kArray:
      return "an array [...]";
  }
  return "a value";
}

NatsConfValue ParseNatsConfText(std::string_view text, const std::string& name,
                                const std::string& dir) {
  std::vector<NatsConfValue*> scopes;
  NatsConfValue root;
  root.file = name;
  root.line = 1;
  Parser(text, name, dir, scopes, 0).ParseTop(root);
  return root;
}

NatsConfValue ParseNatsConfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    config::ConfigIssue issue;
    issue.file = path;
    issue.message = "cannot read the configuration file (does it exist and is it readable?)";
    throw config::ConfigError({issue});
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::filesystem::path p(path);
  std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  return ParseNatsConfText(ss.str(), path, dir);
}

}  // namespace meridian::server
