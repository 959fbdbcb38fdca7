#include "store/subject_filter.h"

namespace meridian::store {
namespace {

std::string_view NextToken(std::string_view* rest) {
  size_t dot = rest->find('.');
  std::string_view token = rest->substr(0, dot);
  *rest = dot == std::string_view::npos ? std::string_view() : rest->substr(dot + 1);
  return token;
}

}  // namespace

bool SubjectMatchesFilter(std::string_view filter, std::string_view subject) {
  if (filter.empty() || filter == ">") return !subject.empty();
  bool filter_done = false;
  while (!filter_done) {
    filter_done = filter.find('.') == std::string_view::npos;
    std::string_view f = NextToken(&filter);
    if (subject.empty()) return false;
    bool subject_done = subject.find('.') == std::string_view::npos;
    std::string_view s = NextToken(&subject);
    if (f == ">" && filter_done) return true;
    if (f != "*" && f != s) return false;
    if (filter_done != subject_done) return false;
    if (subject_done) return true;
  }
  return false;
}

bool IsLiteralSubject(std::string_view filter) {
  if (filter.empty()) return false;
  std::string_view rest = filter;
  while (true) {
    bool last = rest.find('.') == std::string_view::npos;
    std::string_view token = NextToken(&rest);
    if (token == "*" || token == ">") return false;
    if (last) return true;
  }
}

}  // namespace meridian::store
