// Calendar timestamps of clinical exports to seconds since 1970-01-01 (UTC, proleptic
// Gregorian; MIMIC's shifted dates in the 2100s are fine). Accepted forms:
//   2180-07-23            2180-07-23 12:35:00        2180-07-23T12:35:00Z
//   2180-07-23 12:35      2180-07-23 12:35:00.123    2180-07-23T12:35:00+00:00 (offset applied)
// Absolute dates never reach a data set: prep turns them into ages (time since birth).
#pragma once

#include <cstdint>
#include <string_view>

namespace clinfm {

constexpr double kSecondsPerDay = 86400.0;
constexpr double kDaysPerYear = 365.25;

int64_t days_from_civil(int64_t year, unsigned month, unsigned day);
// False when `text` is not one of the forms above or names an impossible date/time.
bool parse_timestamp(std::string_view text, int64_t* seconds);

}  // namespace clinfm
