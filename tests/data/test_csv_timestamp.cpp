// The CSV reader (quoting, gzip, line numbers, bad rows) and timestamp parsing.
#include <gtest/gtest.h>
#include <zlib.h>

#include "common/error.h"
#include "data/csv_reader.h"
#include "data/timestamp.h"
#include "prep_fixture.h"

namespace clinfm {
namespace {
using testing::TempDir;
using testing::write_text;

std::vector<std::vector<std::string>> read_all(CsvReader& reader, std::vector<int64_t>* lines = nullptr) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string_view> f;
  while (reader.next(f)) {
    rows.emplace_back(f.begin(), f.end());
    if (lines) lines->push_back(reader.line());
  }
  return rows;
}

TEST(Csv, QuotingNewlinesAndLineNumbers) {
  TempDir dir;
  write_text(dir / "a.csv",
             "\xEF\xBB\xBFid,text,value\r\n"
             "1,\"a, quoted \"\"word\"\"\",2.5\r\n"
             "2,\"two\nlines\",\n"
             "\n"
             "3,,7\n");
  CsvReader reader(dir / "a.csv");
  EXPECT_EQ(reader.header(), (std::vector<std::string>{"id", "text", "value"}));
  EXPECT_EQ(reader.require_column("value"), 2);
  EXPECT_EQ(reader.find_column("nope"), -1);
  std::vector<int64_t> lines;
  const auto rows = read_all(reader, &lines);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][1], "a, quoted \"word\"");
  EXPECT_EQ(rows[1][1], "two\nlines");
  EXPECT_EQ(rows[1][2], "");
  EXPECT_EQ(lines, (std::vector<int64_t>{2, 3, 6}));  // the record after a quoted newline and a blank line
}

TEST(Csv, PlainAndQuotedLinesMixAndTheLastLineNeedsNoNewline) {
  TempDir dir;
  // Plain lines take the zero-copy path; a quote or a stray carriage return takes the general one.
  write_text(dir / "m.csv", "a,b\nx,1\n\"y\",2\nz\rz,3\r\n,\n\"q\nr\",4\nlast,5");
  CsvReader reader(dir / "m.csv");
  std::vector<int64_t> lines;
  const auto rows = read_all(reader, &lines);
  const std::vector<std::vector<std::string>> want = {{"x", "1"}, {"y", "2"},    {"zz", "3"},
                                                      {"", ""},   {"q\nr", "4"}, {"last", "5"}};
  EXPECT_EQ(rows, want);
  EXPECT_EQ(lines, (std::vector<int64_t>{2, 3, 4, 5, 6, 8}));
}

TEST(Csv, GzipAndLargeRecords) {
  TempDir dir;
  std::string text = "a,b\n";
  for (int i = 0; i < 50000; ++i) text += std::to_string(i) + "," + std::string(i % 97, 'x') + "\n";
  text += "big," + std::string(3 << 20, 'y') + "\n";  // larger than the read buffer
  gzFile gz = gzopen((dir / "t.csv.gz").c_str(), "wb");
  gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
  gzclose(gz);
  CsvReader reader(dir / "t.csv.gz");
  const auto rows = read_all(reader);
  ASSERT_EQ(rows.size(), 50001u);
  EXPECT_EQ(rows[49999][0], "49999");
  EXPECT_EQ(rows.back()[1].size(), size_t(3) << 20);
  EXPECT_EQ(reader.records(), 50001);
}

TEST(Csv, BadRowsNameFileAndLineOrAreCounted) {
  TempDir dir;
  write_text(dir / "bad.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n");
  {
    CsvReader reader(dir / "bad.csv");
    std::vector<std::string_view> f;
    ASSERT_TRUE(reader.next(f));
    try {
      reader.next(f);
      FAIL();
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("bad.csv:3: expected 3 columns as in the header, found 2"),
                std::string::npos)
          << e.what();
    }
  }
  CsvReader reader(dir / "bad.csv");
  reader.set_skip_bad_rows(true);
  EXPECT_EQ(read_all(reader).size(), 2u);
  EXPECT_EQ(reader.bad_rows(), 2);
  write_text(dir / "open.csv", "a,b\n1,\"never closed\n2,3\n");
  CsvReader open_quote(dir / "open.csv");
  EXPECT_THROW(read_all(open_quote), InputError);
  write_text(dir / "empty.csv", "");
  EXPECT_THROW(CsvReader(dir / "empty.csv"), InputError);
  EXPECT_THROW(CsvReader(dir / "missing.csv"), InputError);
  try {
    CsvReader r(dir / "bad.csv");
    r.require_column("time");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("required column 'time' is missing"), std::string::npos);
    EXPECT_NE(e.hint().find("a, b, c"), std::string::npos);
  }
}

TEST(Csv, TruncatedGzipIsAnError) {
  TempDir dir;
  std::string text = "a,b\n";
  for (int i = 0; i < 100000; ++i) text += std::to_string(i) + ",value\n";
  gzFile gz = gzopen((dir / "t.csv.gz").c_str(), "wb");
  gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
  gzclose(gz);
  const std::string bytes = read_file(dir / "t.csv.gz");
  // Cut in half: an error naming the file and "truncated", also when bad rows are skipped (it
  // used to pass as one short row: "expected 2 columns, found 1", or as a skipped row).
  write_text(dir / "t.csv.gz", bytes.substr(0, bytes.size() / 2));
  for (const bool skip : {false, true}) {
    CsvReader reader(dir / "t.csv.gz");
    reader.set_skip_bad_rows(skip);
    try {
      read_all(reader);
      ADD_FAILURE() << "a truncated .csv.gz was read to the end";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(dir / "t.csv.gz: truncated"), std::string::npos) << e.what();
      EXPECT_NE(e.hint().find("gzip -t"), std::string::npos);
    }
    EXPECT_EQ(reader.bad_rows(), 0);
  }
  // Bytes changed in the middle of the stream: a corrupt stream, not rows.
  std::string damaged = bytes;
  for (size_t i = damaged.size() / 2; i < damaged.size() / 2 + 64; ++i) damaged[i] ^= 0x5a;
  write_text(dir / "t.csv.gz", damaged);
  CsvReader reader(dir / "t.csv.gz");
  reader.set_skip_bad_rows(true);
  try {
    read_all(reader);
    ADD_FAILURE() << "a corrupt .csv.gz was read to the end";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "t.csv.gz: corrupt"), std::string::npos) << e.what();
  }
}

TEST(Csv, StrictNumbers) {
  double d = 0;
  int64_t i = 0;
  EXPECT_TRUE(parse_double("7.25", &d));
  EXPECT_EQ(d, 7.25);
  EXPECT_TRUE(parse_double("-1e-3", &d));
  EXPECT_FALSE(parse_double("", &d));
  EXPECT_FALSE(parse_double("7.2x", &d));
  EXPECT_FALSE(parse_double("nan", &d));
  EXPECT_FALSE(parse_double("inf", &d));
  EXPECT_FALSE(parse_double("1e400", &d));  // overflows to infinity
  EXPECT_TRUE(parse_double("+5", &d));      // what strtod accepted stays accepted
  EXPECT_EQ(d, 5.0);
  EXPECT_TRUE(parse_double("0.1", &d));
  EXPECT_EQ(d, 0.1);  // correctly rounded
  EXPECT_TRUE(parse_int64("-42", &i));
  EXPECT_EQ(i, -42);
  EXPECT_FALSE(parse_int64("4.2", &i));
  EXPECT_FALSE(parse_int64("99999999999999999999", &i));
}

TEST(Timestamp, FormatsAndCalendar) {
  int64_t s = 0;
  ASSERT_TRUE(parse_timestamp("1970-01-01", &s));
  EXPECT_EQ(s, 0);
  ASSERT_TRUE(parse_timestamp("2000-03-01 10:00:00", &s));
  EXPECT_EQ(s, 951904800);
  ASSERT_TRUE(parse_timestamp("2000-03-01T10:00:00Z", &s));
  EXPECT_EQ(s, 951904800);
  ASSERT_TRUE(parse_timestamp("2000-03-01T12:30:00+02:30", &s));
  EXPECT_EQ(s, 951904800);
  ASSERT_TRUE(parse_timestamp("2000-03-01 10:00", &s));
  EXPECT_EQ(s, 951904800);
  ASSERT_TRUE(parse_timestamp("2000-03-01 10:00:00.750", &s));
  EXPECT_EQ(s, 951904800);
  ASSERT_TRUE(parse_timestamp("2180-07-23 12:35:00", &s));  // MIMIC's shifted dates
  EXPECT_EQ(s, days_from_civil(2180, 7, 23) * 86400 + 12 * 3600 + 35 * 60);
  ASSERT_TRUE(parse_timestamp("1900-01-01", &s));
  EXPECT_EQ(s, -2208988800);
  EXPECT_TRUE(parse_timestamp("2024-02-29", &s));
  EXPECT_FALSE(parse_timestamp("2023-02-29", &s));
  EXPECT_FALSE(parse_timestamp("1900-02-29", &s));
  EXPECT_FALSE(parse_timestamp("2001-13-01", &s));
  EXPECT_FALSE(parse_timestamp("2001-01-01 25:00:00", &s));
  EXPECT_FALSE(parse_timestamp("01/02/2001", &s));
  EXPECT_FALSE(parse_timestamp("2001-01-01 10:00:00 junk", &s));
  EXPECT_FALSE(parse_timestamp("", &s));
}

}  // namespace
}  // namespace clinfm
