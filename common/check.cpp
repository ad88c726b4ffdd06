#include "common/check.h"

#include <cstring>

namespace clinfm::detail {

void raise_check(const char* file, int line, const std::string& message, const std::string& hint) {
  throw Error(message, hint, describe_site(file, line));
}

void raise_foreign(const char* library, const char* call, const char* file, int line, long code,
                   const std::string& library_text, const std::string& hint) {
  std::string text = library_text.empty() ? std::string("(no error text)") : library_text;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  throw Error(fmt::format("{} call failed with code {}: {}\n  call: {}", library, code, text, call), hint,
              describe_site(file, line));
}

void raise_io(const char* file, int line, int saved_errno, const std::string& path,
              const std::string& action) {
  std::string hint;
  switch (saved_errno) {
    case ENOSPC:
    case EDQUOT:
      hint = "the disk is full: free space there or choose another output folder";
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      hint = "check the permissions of the file and its folder (and that it is not read-only)";
      break;
    case ENOENT:
      hint = "check the path; relative paths are taken from the current working directory";
      break;
    default:
      break;
  }
  throw Error(fmt::format("cannot {} '{}': {}", action, path, std::strerror(saved_errno)), hint,
              describe_site(file, line));
}

}  // namespace clinfm::detail
