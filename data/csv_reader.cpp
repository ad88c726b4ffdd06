#include "data/csv_reader.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "common/error.h"

namespace clinfm {
namespace {
constexpr size_t kBufferSize = 1 << 20;
}

CsvReader::CsvReader(const std::string& path) : path_(path), buffer_(kBufferSize) {
  file_ = gzopen(path.c_str(), "rb");
  if (!file_) {
    throw InputError(fmt::format("cannot open '{}': {}", path, std::strerror(errno)),
                     "check the path and that the file is readable");
  }
  gzbuffer(file_, 1 << 18);
  try {  // a throwing constructor runs no destructor: close the file here (found by fuzz_csv)
    std::vector<std::string_view> fields;
    if (!read_record(fields)) {
      throw InputError(fmt::format("{}: the file is empty: a header row is required", path));
    }
    for (const auto f : fields) header_.emplace_back(f);
  } catch (...) {
    gzclose(file_);
    file_ = nullptr;
    throw;
  }
  if (!header_.empty() && header_[0].rfind("\xEF\xBB\xBF", 0) == 0) header_[0].erase(0, 3);  // UTF-8 BOM
}

CsvReader::~CsvReader() {
  if (file_) gzclose(file_);
}

int CsvReader::find_column(std::string_view name) const {
  for (size_t i = 0; i < header_.size(); ++i)
    if (header_[i] == name) return static_cast<int>(i);
  return -1;
}

int CsvReader::require_column(std::string_view name) const {
  const int index = find_column(name);
  if (index < 0) {
    std::string columns;
    for (const auto& h : header_) columns += (columns.empty() ? "" : ", ") + h;
    throw InputError(fmt::format("{}: required column '{}' is missing", path_, name),
                     fmt::format("the header has: {}", columns));
  }
  return index;
}

uint64_t CsvReader::compressed_bytes_read() const {
  return file_ ? static_cast<uint64_t>(gzoffset(file_)) : 0;
}

std::string CsvReader::where() const { return fmt::format("{}:{}", path_, record_line_); }

bool CsvReader::fill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
  const int n = gzread(file_, buffer_.data() + end_, static_cast<unsigned>(buffer_.size() - end_));
  int code = Z_OK;
  const char* message = n <= 0 ? gzerror(file_, &code) : "";
  // zlib's Z_BUF_ERROR at the end: the input ended inside a gzip stream. That is a truncated
  // file, never a short last row: no --on-bad-row setting skips it.
  if (n <= 0 && code == Z_BUF_ERROR) {
    throw InputError(
        fmt::format("{}: truncated: the gzip stream ends early (near line {}, after {} compressed "
                    "bytes)",
                    path_, line_, compressed_bytes_read()),
        "the file was cut short (an interrupted copy or download?): copy it again; `gzip -t` "
        "checks a .gz file");
  }
  if (n < 0) {
    throw InputError(fmt::format("{}: corrupt: read error near line {}: {}", path_, line_, message),
                     "the file is damaged or not valid gzip; `gzip -t` checks it");
  }
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += static_cast<size_t>(n);
  return true;
}

// The common case: the next line holds no quote and no stray carriage return, so its fields are
// views straight into the buffer (no copy). Returns false, consuming nothing, when the line
// needs the general parser below.
bool CsvReader::read_plain_line(std::vector<std::string_view>& fields) {
  size_t scanned = 0;  // bytes after begin_ already searched for the newline
  const char* newline = nullptr;
  for (;;) {
    newline = static_cast<const char*>(
        std::memchr(buffer_.data() + begin_ + scanned, '\n', end_ - begin_ - scanned));
    if (newline) break;
    scanned = end_ - begin_;
    if (!fill()) break;  // the last line has no newline
  }
  if (begin_ == end_) return false;  // end of file: the general parser reports it
  const char* line = buffer_.data() + begin_;
  size_t length = newline ? static_cast<size_t>(newline - line) : end_ - begin_;
  if (length > 0 && line[length - 1] == '\r') --length;
  if (std::memchr(line, '"', length) || std::memchr(line, '\r', length)) return false;
  record_line_ = line_;
  fields.clear();
  const char* const stop = line + length;
  const char* start = line;
  for (;;) {
    const char* comma = static_cast<const char*>(std::memchr(start, ',', static_cast<size_t>(stop - start)));
    if (!comma) break;
    fields.emplace_back(start, static_cast<size_t>(comma - start));
    start = comma + 1;
  }
  fields.emplace_back(start, static_cast<size_t>(stop - start));
  begin_ = newline ? static_cast<size_t>(newline - buffer_.data()) + 1 : end_;
  if (newline) ++line_;
  return true;
}

bool CsvReader::read_record(std::vector<std::string_view>& fields) {
  if (read_plain_line(fields)) return true;
  record_.clear();
  field_ends_.clear();
  record_line_ = line_;
  bool in_quotes = false;
  bool any = false;
  for (;;) {
    if (begin_ == end_ && !fill()) {
      if (in_quotes) {
        throw InputError(fmt::format("{}:{}: a quoted field is not closed before the end of the file", path_,
                                     record_line_));
      }
      if (!any) return false;
      break;
    }
    any = true;
    const char c = buffer_[begin_++];
    if (in_quotes) {
      if (c == '"') {
        if (begin_ == end_) fill();
        if (begin_ < end_ && buffer_[begin_] == '"') {
          record_ += '"';
          ++begin_;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line_;
        record_ += c;
      }
      continue;
    }
    if (c == '"') {
      in_quotes = true;
    } else if (c == ',') {
      field_ends_.push_back(record_.size());
    } else if (c == '\n') {
      ++line_;
      break;
    } else if (c != '\r') {
      record_ += c;
    }
  }
  field_ends_.push_back(record_.size());
  fields.clear();
  size_t start = 0;
  for (const size_t end : field_ends_) {
    fields.emplace_back(record_.data() + start, end - start);
    start = end;
  }
  return true;
}

bool CsvReader::next(std::vector<std::string_view>& fields) {
  for (;;) {
    if (!read_record(fields)) return false;
    if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
    if (fields.size() == header_.size()) {
      ++records_;
      return true;
    }
    if (!skip_bad_rows_) {
      throw InputError(fmt::format("{}:{}: expected {} columns as in the header, found {}", path_,
                                   record_line_, header_.size(), fields.size()),
                       "fix or remove the row, or pass --on-bad-row=skip to skip and count such rows");
    }
    ++bad_rows_;
  }
}

bool parse_double(std::string_view text, double* out) {
  if (text.empty()) return false;
  // Fast path: std::from_chars (exact, no locale); strtod below keeps accepting what it always
  // did (a leading '+', leading spaces, hexadecimal floats).
  double fast = 0;
  const auto [end_fast, ec] = std::from_chars(text.data(), text.data() + text.size(), fast);
  if (ec == std::errc() && end_fast == text.data() + text.size()) {
    if (!std::isfinite(fast)) return false;
    *out = fast;
    return true;
  }
  char buffer[64];
  if (text.size() >= sizeof(buffer)) return false;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  char* end = nullptr;
  const double v = std::strtod(buffer, &end);
  if (end != buffer + text.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool parse_int64(std::string_view text, int64_t* out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace clinfm
