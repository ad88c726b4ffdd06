// Error types thrown inside clinfm's libraries. `main` is the only place that catches them: it
// logs the message with the rank and ends the whole job (see trainer/comm/launch.h).
// Every error carries what went wrong, where in our code, and a hint that tells the user what
// to do. Exit codes: 1 runtime failure, 2 bad input (usage, config, data), 3 not built yet.
#pragma once

#include <stdexcept>
#include <string>

namespace clinfm {

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message, std::string hint = {}, std::string where = {});

  const std::string& hint() const { return hint_; }
  // "file.cpp:123 (rank 1/4 on host)" of the throw site; empty for input errors where the
  // message already names the user's file and line.
  const std::string& where() const { return where_; }
  virtual int exit_code() const { return 1; }

 private:
  std::string hint_;
  std::string where_;
};

// Bad input from the user: a config file, a command-line argument, a data file.
class InputError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return 2; }
};

// A command or option whose implementation has not landed yet. Never pretend it ran.
class NotBuiltError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return 3; }
};

// "file:line (rank r/N on host)" for the current process.
std::string describe_site(const char* file, int line);

}  // namespace clinfm
