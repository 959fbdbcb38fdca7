// Table: the boxed tables the reports print (as the `nats` CLI draws them), and the number,
// size and duration formats used in them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace meridian::cli {

class Table {
 public:
  explicit Table(std::string title) : title_(std::move(title)) {}
  void SetHeader(std::vector<std::string> header) { header_ = std::move(header); }
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // A row below a separator (totals).
  void SetFooter(std::vector<std::string> footer) { footer_ = std::move(footer); }
  size_t rows() const { return rows_.size(); }
  // Box-drawn text, one line per row, ending in a newline.
  std::string Render() const;

 private:
  std::string title_;
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::string> footer_;
};

// Display width in terminal columns (UTF-8 code points; every one counted as 1).
size_t DisplayWidth(const std::string& s);
// 1536 -> "1.5 KiB", 0 -> "0 B".
std::string HumanBytes(uint64_t bytes);
// 1234567 -> "1,234,567".
std::string WithCommas(uint64_t n);
// Nanoseconds -> "0s", "628ms", "31µs", "5m44s", "2h3m", "3d4h".
std::string HumanDuration(int64_t nanos);

}  // namespace meridian::cli
