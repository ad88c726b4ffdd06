// Streaming CSV reader for clinical exports: plain `.csv` or gzip `.csv.gz` (zlib reads both),
// RFC 4180 quoting (quoted commas, doubled quotes, newlines inside quotes), a header row, and
// the 1-based line number of every record for error messages. Memory is one buffer and one
// record, whatever the file size. It does not guess types: callers parse the fields they keep.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace clinfm {

class CsvReader {
 public:
  // Opens `path` and reads the header row. Throws InputError naming the file when it cannot be
  // opened or has no header.
  explicit CsvReader(const std::string& path);
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<std::string>& header() const { return header_; }
  // Index of a column, or -1.
  int find_column(std::string_view name) const;
  // Index of a column that must exist; InputError naming the file and the column otherwise.
  int require_column(std::string_view name) const;

  // Reads the next record into `fields` (views valid until the next call). Returns false at the
  // end of the file. A record whose field count differs from the header's is an InputError
  // naming the file and line, unless set_skip_bad_rows(true), in which case it is skipped and
  // counted in bad_rows().
  bool next(std::vector<std::string_view>& fields);
  // Line (1-based) on which the record last returned by next() started.
  int64_t line() const { return record_line_; }
  int64_t records() const { return records_; }
  int64_t bad_rows() const { return bad_rows_; }
  void set_skip_bad_rows(bool skip) { skip_bad_rows_ = skip; }
  uint64_t compressed_bytes_read() const;

  // "file:line: " prefix for error messages about the current record.
  std::string where() const;

 private:
  bool fill();
  bool read_record(std::vector<std::string_view>& fields);
  bool read_plain_line(std::vector<std::string_view>& fields);

  std::string path_;
  gzFile file_ = nullptr;
  std::vector<char> buffer_;
  size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  std::string record_;              // unescaped bytes of the current record
  std::vector<size_t> field_ends_;  // end offsets into record_
  std::vector<std::string> header_;
  int64_t line_ = 1;  // line of the next unread byte
  int64_t record_line_ = 0;
  int64_t records_ = 0;
  int64_t bad_rows_ = 0;
  bool skip_bad_rows_ = false;
};

// Strict number parsing for CSV fields: the whole field must be a finite number.
bool parse_double(std::string_view text, double* out);
bool parse_int64(std::string_view text, int64_t* out);

}  // namespace clinfm
